#!/usr/bin/python3
"""Reference raw outputs of the detect models, for tests/detect/test_detect_reference.cpp.

YOLOX-nano and FastestDet run in ONNX Runtime (scripts/ort_run.mjs); Yolo-Fastest 1.1 and
1.1-XL run through OpenCV's own Darknet importer (cv2.dnn.readNetFromDarknet), reading the
convolution that feeds each [yolo] layer, i.e. the raw tensor cvtool's importer outputs.

The input is ../shared/data/images/dog.jpg pre-processed exactly as cvtool's manifests say
(the same OpenCV resize), so the test rebuilds it with cvtool's own pre-processing and first
checks it against the stored input statistics. Stored per output: its shape, ~600 evenly
strided elements and the 150 largest ones (index, value). Small enough to commit.

Usage: /usr/bin/python3 scripts/detect_reference.py [--shared ../shared] [--out tests/data/detect/raw_refs.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def preprocess(bgr, size, color, resize, scale, pad=114.0, place="center"):
    """cvtool's tasks/common/preprocess.cpp in numpy/cv2."""
    w, h = size
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if color == "RGB" else bgr
    if resize == "stretch":
        out = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        s = min(w / img.shape[1], h / img.shape[0])
        rw = max(1, int(np.floor(img.shape[1] * s + 0.5)))
        rh = max(1, int(np.floor(img.shape[0] * s + 0.5)))
        r = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        x0 = 0 if place == "top_left" else (w - rw) // 2
        y0 = 0 if place == "top_left" else (h - rh) // 2
        out = np.full((h, w, 3), pad, dtype=np.uint8)
        out[y0:y0 + rh, x0:x0 + rw] = r
    x = out.astype(np.float32) * np.float32(scale)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def summarise(t, strided=600, top=150):
    flat = t.reshape(-1).astype(np.float64)
    step = max(1, flat.size // strided)
    idx = list(range(0, flat.size, step))
    idx += [int(i) for i in np.argsort(-flat)[:top]]
    idx = sorted(set(idx))
    return {"shape": list(t.shape), "samples": [[i, float(flat[i])] for i in idx]}


def input_stats(x):
    flat = x.reshape(-1).astype(np.float64)
    return {"shape": list(x.shape), "sum": float(flat.sum()), "first": [float(v) for v in flat[:8]],
            "probe": [[int(i), float(flat[i])] for i in range(0, flat.size, max(1, flat.size // 64))]}


def run_ort(model, input_name, x):
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        res = subprocess.run(["node", os.path.join(ROOT, "scripts", "ort_run.mjs"), model, "--input",
                              f"{input_name}={os.path.join(d, 'x.npy')}", "--output-dir", d],
                             check=True, capture_output=True, text=True)
        info = json.loads(res.stdout)
        return {o["name"]: np.load(o["file"]) for o in info["outputs"]}, info.get("ort_version", "?")


def run_darknet(cfg, weights, x):
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    names = net.getLayerNames()
    outs = {}
    for yolo in net.getUnconnectedOutLayersNames():
        k = int(yolo.split("_")[1])
        conv = f"conv_{k - 1}"
        assert conv in names, conv
        net.setInput(x)
        outs[yolo] = net.forward(conv)
    return outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "detect", "raw_refs.json"))
    a = ap.parse_args()
    det = os.path.join(a.shared, "models", "detect")
    bgr = cv2.imread(os.path.join(a.shared, "data", "images", "dog.jpg"))
    result = {"image": "data/images/dog.jpg", "generator": "scripts/detect_reference.py",
              "opencv": cv2.__version__, "models": {}}

    x = preprocess(bgr, (416, 416), "BGR", "letterbox", 1.0, 114.0, "top_left")
    outs, ortv = run_ort(os.path.join(det, "yolox_nano.onnx"), "images", x)
    result["models"]["yolox-nano"] = {"peer": f"onnxruntime {ortv}", "input": input_stats(x),
                                      "outputs": {k: summarise(v) for k, v in outs.items()}}

    x = preprocess(bgr, (352, 352), "BGR", "stretch", 1 / 255)
    outs, ortv = run_ort(os.path.join(det, "FastestDet.onnx"), "input.1", x)
    result["models"]["fastestdet"] = {"peer": f"onnxruntime {ortv}", "input": input_stats(x),
                                      "outputs": {k: summarise(v) for k, v in outs.items()}}

    for name, stem in (("yolo-fastest", "yolo-fastest-1.1"), ("yolo-fastest-xl", "yolo-fastest-1.1-xl")):
        x = preprocess(bgr, (320, 320), "RGB", "stretch", 1 / 255)
        outs = run_darknet(os.path.join(det, stem + ".cfg"), os.path.join(det, stem + ".weights"), x)
        result["models"][name] = {"peer": f"opencv {cv2.__version__} darknet importer", "input": input_stats(x),
                                  "outputs": {k: summarise(v) for k, v in outs.items()}}

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
