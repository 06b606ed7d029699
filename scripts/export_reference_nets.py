#!/usr/bin/python3
"""Export torchvision reference CNNs to ONNX with seeded random weights.

cvtool's engine is checked against these: for each model we write the ONNX
graph, a seeded input and PyTorch's own output for that input, plus a small
JSON sidecar describing them. Nothing is downloaded (weights=None); weights
come from torchvision's default init under a fixed seed. BatchNorm running
stats are calibrated on random data and then perturbed, and gamma/beta are
randomised, so activations stay O(1) and BN folding is really exercised.
Files are regenerated only when missing or made with another seed, opset,
torch version or RECIPE (bump it when changing how weights are made).

Files per model NAME in --out DIR:
  NAME.onnx, NAME_input.npy, NAME_output.npy, NAME.json
Detection models (fasterrcnn/maskrcnn, opt-in) have several outputs, written
as NAME_output_<output>.npy; their input is one [3,H,W] image in [0,1].

Run with Debian's interpreter: /usr/bin/python3 (needs torch, torchvision).
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torchvision
from torchvision import models

CLASSIFIERS = {
    "alexnet": lambda: models.alexnet(weights=None),
    "vgg16": lambda: models.vgg16(weights=None),
    "resnet18": lambda: models.resnet18(weights=None),
    "resnet50": lambda: models.resnet50(weights=None),
    "googlenet": lambda: models.googlenet(weights=None, aux_logits=False,
                                          init_weights=True,
                                          transform_input=False),
    "mobilenet_v2": lambda: models.mobilenet_v2(weights=None),
    "squeezenet1_1": lambda: models.squeezenet1_1(weights=None),
}

# Detectors: torchvision's default init of the RPN/box predictor layers gives
# logits with std ~40 on random features, i.e. saturated scores (many exactly
# 1.0) and wild box deltas, so ORT vs PyTorch top-k/NMS order is arbitrary.
# We re-draw those layers with small std (tame_detector_heads): class logits
# std ~2, deltas ~0.2, and scores spread over ~0.4-0.9. box_score_thresh is
# passed explicitly at torchvision's 0.05: >100 boxes pass it, so each image
# yields box_detections_per_img=100 detections with random weights.
DET_SCORE_THRESH = 0.05
DET_IMAGE_HW = (320, 416)   # input image size, also min_size/max_size so
DET_OPTS = dict(weights=None, weights_backbone=None,  # no internal rescale
                box_score_thresh=DET_SCORE_THRESH,
                min_size=DET_IMAGE_HW[0], max_size=DET_IMAGE_HW[1])
DETECTORS = {
    "fasterrcnn_resnet50_fpn":
        (lambda: models.detection.fasterrcnn_resnet50_fpn(**DET_OPTS),
         ["boxes", "labels", "scores"]),
    "maskrcnn_resnet50_fpn":
        (lambda: models.detection.maskrcnn_resnet50_fpn(**DET_OPTS),
         ["boxes", "labels", "scores", "masks"]),
}
DET_OPSET = 11
RECIPE = 2
CI_SET = ["resnet18", "googlenet", "mobilenet_v2", "squeezenet1_1"]


def log(msg):
    print(f"[export] {msg}", file=sys.stderr, flush=True)


def randomise_batchnorm(model, seed):
    """Give every BN layer seeded, non-trivial statistics and affine params.

    Running stats are first calibrated on a random batch (one train-mode
    pass, so activations stay O(1) even in deep residual nets), then
    perturbed: var scaled by U[0.5,1.5), mean shifted, gamma/beta random.
    """
    g = torch.Generator().manual_seed(seed + 1)
    bn_types = (torch.nn.modules.batchnorm._BatchNorm,
                torchvision.ops.FrozenBatchNorm2d)
    bns = [m for m in model.modules() if isinstance(m, bn_types)]
    # detectors: calibrate the backbone only (the heads have no BN)
    body = getattr(model, "backbone", model)
    hw = DET_IMAGE_HW if body is not model else (224, 224)
    for m in bns:
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass = batch stats
    with torch.no_grad():
        if bns:
            body.train()(torch.randn(4, 3, *hw, generator=g))
        for m in bns:
            c = m.running_mean.numel()
            std = m.running_var.sqrt()
            m.running_mean.add_(torch.randn(c, generator=g) * 0.1 * std)
            m.running_var.mul_(torch.rand(c, generator=g) + 0.5)     # x[0.5,1.5)
            m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)  # [0.75,1.25)
            m.bias.copy_(torch.randn(c, generator=g) * 0.1)
            if hasattr(m, "momentum"):
                m.momentum = 0.1


def tame_detector_heads(model, seed):
    """Small-std RPN/box predictors: unsaturated scores (see DET_* notes)."""
    g = torch.Generator().manual_seed(seed + 2)
    heads = [(model.rpn.head.cls_logits, 1e-3), (model.rpn.head.bbox_pred, 1e-4),
             (model.roi_heads.box_predictor.cls_score, 1e-3),
             (model.roi_heads.box_predictor.bbox_pred, 1e-4)]
    with torch.no_grad():
        for layer, std in heads:
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * std)
            layer.bias.zero_()


def build(name, seed):
    torch.manual_seed(seed)
    factory = CLASSIFIERS[name] if name in CLASSIFIERS else DETECTORS[name][0]
    model = factory()
    randomise_batchnorm(model, seed)
    if name in DETECTORS:
        tame_detector_heads(model, seed)
    return model.eval()


def make_input(name, seed):
    rng = np.random.default_rng(seed)
    if name in DETECTORS:
        return rng.random((3, *DET_IMAGE_HW), dtype=np.float32)
    return rng.standard_normal((1, 3, 224, 224), dtype=np.float32)


def up_to_date(out, name, seed, opset):
    try:
        with open(os.path.join(out, f"{name}.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    files = [f"{name}.onnx", f"{name}_input.npy"] + meta.get("output_files", [])
    return (meta.get("seed") == seed and meta.get("opset") == opset
            and meta.get("torch") == torch.__version__
            and meta.get("recipe") == RECIPE
            and all(os.path.exists(os.path.join(out, p)) for p in files))


def export_one(name, out, seed, opset):
    t0 = time.time()
    meta_path = os.path.join(out, f"{name}.json")
    if os.path.exists(meta_path):  # written last: marks a complete export
        os.remove(meta_path)
    model = build(name, seed)
    x = make_input(name, seed)
    xt = torch.from_numpy(x)
    detector = name in DETECTORS
    output_names = DETECTORS[name][1] if detector else ["output"]
    with torch.no_grad():
        result = model([xt])[0] if detector else {"output": model(xt)}
    outputs = {k: result[k] for k in output_names}
    t_fwd = time.time() - t0

    onnx_path = os.path.join(out, f"{name}.onnx")
    tmp_path = onnx_path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, ([xt],) if detector else xt, tmp_path,
                          input_names=["input"], output_names=output_names,
                          opset_version=opset, do_constant_folding=True)
    os.replace(tmp_path, onnx_path)
    t_exp = time.time() - t0 - t_fwd

    np.save(os.path.join(out, f"{name}_input.npy"), x)
    output_files, output_shapes = [], {}
    for k, v in outputs.items():
        arr = v.numpy()
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        fname = f"{name}_output.npy" if not detector else f"{name}_output_{k}.npy"
        np.save(os.path.join(out, fname), arr)
        output_files.append(fname)
        output_shapes[k] = list(arr.shape)
        if arr.dtype == np.float32 and not np.all(np.isfinite(arr)):
            raise RuntimeError(f"{name}: non-finite values in output {k}")

    meta = dict(name=name, opset=opset, input_name="input",
                output_name=output_names if detector else "output",
                input_shape=list(x.shape),
                output_shape=output_shapes if detector else output_shapes["output"],
                output_files=output_files,
                params=int(sum(p.numel() for p in model.parameters())),
                torch=torch.__version__, torchvision=torchvision.__version__,
                seed=seed, recipe=RECIPE)
    if detector:
        meta.update(box_score_thresh=DET_SCORE_THRESH, min_size=DET_IMAGE_HW[0],
                    max_size=DET_IMAGE_HW[1])
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size_mb = os.path.getsize(onnx_path) / 1e6
    first = outputs[output_names[0]]
    log(f"{name}: done in {time.time() - t0:.1f}s (forward {t_fwd:.1f}s, "
        f"export {t_exp:.1f}s), {size_mb:.1f} MB, {meta['params']} params, "
        f"{output_names[0]} {list(first.shape)}"
        + (f" |max| {first.abs().max().item():.3g}" if first.numel() else ""))


def parse_models(spec, with_detection):
    if spec == "all":
        names = list(CLASSIFIERS)
    elif spec == "ci":
        names = list(CI_SET)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if with_detection:
        names += [d for d in DETECTORS if d not in names]
    known = set(CLASSIFIERS) | set(DETECTORS)
    bad = [n for n in names if n not in known]
    if bad:
        sys.exit(f"export_reference_nets: unknown model(s) {', '.join(bad)}; "
                 f"known: {', '.join(sorted(known))}, or 'all' / 'ci'")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--models", default="ci",
                    help="comma list of model names, 'all' or 'ci' (default)")
    ap.add_argument("--opset", type=int, default=13,
                    help=f"ONNX opset for classifiers (detectors use {DET_OPSET})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true",
                    help="re-export even if up-to-date files exist")
    ap.add_argument("--detection", action="store_true",
                    help="also export fasterrcnn/maskrcnn_resnet50_fpn")
    args = ap.parse_args()

    names = parse_models(args.models, args.detection)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)
    # tracing the detectors' data-dependent code warns a lot, as expected;
    # correctness is checked by comparing ORT to the saved PyTorch outputs
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch")
    log(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"seed {args.seed}, out {args.out}")
    failed = []
    for name in names:
        opset = DET_OPSET if name in DETECTORS else args.opset
        if not args.force and up_to_date(args.out, name, args.seed, opset):
            log(f"{name}: up to date, skipped (use --force to redo)")
            continue
        log(f"{name}: exporting (opset {opset})")
        try:
            export_one(name, args.out, args.seed, opset)
        except Exception as e:  # keep going, report at the end
            log(f"{name}: FAILED: {type(e).__name__}: {e}")
            failed.append(name)
    if failed:
        sys.exit(f"export_reference_nets: failed to export {', '.join(failed)}")


if __name__ == "__main__":
    main()
