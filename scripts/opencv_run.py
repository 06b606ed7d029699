#!/usr/bin/python3
"""Time an ONNX model with OpenCV DNN (Debian's python3-opencv), the second peer of scripts/bench.

  opencv_run.py MODEL.onnx [--shape NAME=1x3x224x224 ...] [--threads N] [--warmup W] [--repeat R]

Same protocol as ort_run.mjs: seeded N(0,1) float32 inputs (dynamic dims 1 unless --shape),
warm-up runs, then timed runs; prints JSON {model, opencv_version, threads, latency_ms:{median,min,max}}.
Exits 1 with the reason on stderr when OpenCV cannot import or run the model.
"""
import argparse
import json
import statistics
import os
import sys
import tempfile
import time

import cv2
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--shape", action="append", default=[], help="NAME=1x3xHxW for an input (dynamic dims)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    import onnx  # only for the input names and shapes: OpenCV does not expose them

    m = onnx.load(a.model, load_external_data=False)
    given = {k: [int(d) for d in v.split("x")] for k, v in (s.split("=", 1) for s in a.shape)}
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(a.seed)
    # torch.onnx dedups equal initializers through Identity nodes, which OpenCV 4.6 cannot
    # import: give each its own copy (same network, same weights) in a temporary file.
    model_path = a.model
    idents = [n for n in m.graph.node if n.op_type == "Identity" and n.input[0] in inits]
    if idents:
        m = onnx.load(a.model)
        by_name = {i.name: i for i in m.graph.initializer}
        for n in idents:
            t = onnx.TensorProto()
            t.CopyFrom(by_name[n.input[0]])
            t.name = n.output[0]
            m.graph.initializer.append(t)
            m.graph.node.remove(n)
        inits = {i.name for i in m.graph.initializer}
        tmp = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False)
        tmp.write(m.SerializeToString())
        tmp.close()
        model_path = tmp.name
    try:
        net = cv2.dnn.readNetFromONNX(model_path)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        names = []
        for inp in m.graph.input:
            if inp.name in inits:
                continue
            dims = given.get(inp.name) or [d.dim_value if d.dim_value > 0 else 1 for d in inp.type.tensor_type.shape.dim]
            net.setInput(rng.standard_normal(dims).astype(np.float32), inp.name)
            names.append(inp.name)
        outs = net.getUnconnectedOutLayersNames()
        for _ in range(a.warmup):
            net.forward(outs)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            net.forward(outs)
            times.append((time.perf_counter() - t0) * 1e3)
    except cv2.error as e:
        print(f"opencv_run: {str(e).strip().splitlines()[-1]}", file=sys.stderr)
        sys.exit(1)
    finally:
        if model_path != a.model:
            os.unlink(model_path)
    times.sort()
    print(json.dumps({"model": a.model, "opencv_version": cv2.__version__, "threads": a.threads, "inputs": names,
                      "latency_ms": {"median": round(statistics.median(times), 3), "min": round(times[0], 3),
                                     "max": round(times[-1], 3)}}))


if __name__ == "__main__":
    main()
