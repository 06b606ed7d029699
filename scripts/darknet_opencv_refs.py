#!/usr/bin/python3
"""Darknet cross-check data: Debian's cfgs with seeded, well-scaled random weights, run by
OpenCV's Darknet importer (cv2.dnn.readNetFromDarknet), for tests/detect/test_darknet_opencv.cpp.

Weights are laid out from OpenCV's own parse of the cfg (conv_i / fullyConnected_i blob
shapes, bn_i presence), so the file is exactly what darknet would read: per conv layer
biases, [scales, means, variances], weights; per connected layer biases, weights. Values:
He-like weights, batch-norm variances in [0.5, 1.5], so outputs stay finite and informative.

Writes to OUT/<cfg>/: <cfg>.weights, input.npy, ref_<output>.npy (the tensor cvtool's graph
output <output> must equal: the conv feeding each [yolo]/[region] layer, or the final layer),
and outputs.json. Large files: OUT defaults to .cache/darknet_opencv (gitignored).

Usage: /usr/bin/python3 scripts/darknet_opencv_refs.py [--out DIR] [--cfgs yolov3-tiny,yolov2-tiny,...]
"""
import argparse
import json
import os
import re

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG_DIR = "/usr/share/darknet/cfg"
DEFAULT = "yolov3-tiny,yolov2-tiny,tiny,darknet19,alexnet"  # yolov3 works too (slow); vgg-16 has [crop], resnet50
# strided shortcuts: OpenCV cannot import either.


def make(name, out_root, rng):
    cfg = os.path.join(CFG_DIR, name + ".cfg")
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    zeros = os.path.join(out, "zeros.weights")
    with open(zeros, "wb") as f:  # big enough for any of these cfgs; darknet ignores the tail
        f.write(np.array([0, 2, 0], np.int32).tobytes() + np.zeros(1, np.int64).tobytes())
        f.write(np.zeros(70_000_000, np.float32).tobytes())
    net = cv2.dnn.readNetFromDarknet(cfg, zeros)
    names = list(net.getLayerNames())
    layers = sorted((int(m.group(2)), n) for n in names if (m := re.match(r"(conv|fullyConnected)_(\d+)$", n)))
    parts = [np.array([0, 2, 0], np.int32).tobytes(), np.zeros(1, np.int64).tobytes()]
    for idx, n in layers:
        w = net.getParam(n, 0)
        k, fan = w.shape[0], int(np.prod(w.shape[1:]))
        bias = rng.uniform(-0.1, 0.1, k).astype(np.float32).tobytes()
        weights = (rng.standard_normal(w.shape) * np.sqrt(1.0 / fan)).astype(np.float32).tobytes()
        if n.startswith("conv"):
            parts.append(bias)
            if f"bn_{idx}" in names:
                parts += [rng.uniform(0.8, 1.2, k).astype(np.float32).tobytes(),
                          rng.uniform(-0.1, 0.1, k).astype(np.float32).tobytes(),
                          rng.uniform(0.5, 1.5, k).astype(np.float32).tobytes()]
            parts.append(weights)
        else:
            parts += [bias, weights]
    os.remove(zeros)
    wpath = os.path.join(out, name + ".weights")
    with open(wpath, "wb") as f:
        f.write(b"".join(parts))
    net = cv2.dnn.readNetFromDarknet(cfg, wpath)
    text = open(cfg).read()
    h = int(re.search(r"^height\s*=\s*(\d+)", text, re.M).group(1))
    w = int(re.search(r"^width\s*=\s*(\d+)", text, re.M).group(1))
    x = rng.uniform(0, 1, (1, 3, h, w)).astype(np.float32)
    np.save(os.path.join(out, "input.npy"), x)
    outputs = {}
    sections = re.findall(r"^\[(\w+)\]", text, re.M)[1:]  # darknet layer index -> section type
    head_idx = [i for i, s in enumerate(sections) if s in ("yolo", "region")]
    if head_idx:
        for i in head_idx:
            outputs[f"{sections[i]}_{i}"] = f"conv_{i - 1}"
    else:
        outputs["last"] = names[-1]
    info = {}
    for ours, layer in outputs.items():
        net.setInput(x)
        ref = net.forward(layer)
        np.save(os.path.join(out, f"ref_{ours}.npy"), ref.astype(np.float32))
        info[ours] = {"opencv_layer": layer, "shape": list(ref.shape)}
    with open(os.path.join(out, "outputs.json"), "w") as f:
        json.dump({"cfg": cfg, "opencv": cv2.__version__, "outputs": info}, f, indent=1)
    print(name, info)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache", "darknet_opencv"))
    ap.add_argument("--cfgs", default=DEFAULT)
    a = ap.parse_args()
    rng = np.random.default_rng(2024)
    for name in a.cfgs.split(","):
        make(name, a.out, rng)


if __name__ == "__main__":
    main()
