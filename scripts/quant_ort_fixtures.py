#!/usr/bin/python3
"""Small quantised-op models run through ONNX Runtime: fixtures for tests/ops/test_quant.cpp.

Builds one tiny ONNX model per case (com.microsoft QLinearAdd / QLinearMul /
QLinearGlobalAveragePool / QLinearConcat / QLinearSigmoid / QLinearLeakyRelu,
and QLinearConv / QLinearMatMul with 7-bit weights), seeded random inputs, runs
ONNX Runtime (node scripts/ort_run.mjs, CPU) and writes
tests/data/quant/<case>/{model.onnx,input_<i>.npy,output.npy} (a few KB in all).

Why 7-bit weights for QLinearConv / QLinearMatMul: ONNX Runtime's AVX2 u8s8
kernels (no VNNI) sum pairs of u8*s8 products with vpmaddubsw, which saturates
at int16 for full-range weights, so it departs from exact integer semantics
there; with |w| <= 63 no pair can saturate and the results must be identical.

Usage: CVTOOL_ORT_DIR=... scripts/quant_ort_fixtures.py [--out tests/data/quant]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MS = "com.microsoft"


def q_init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def build(name, nodes, inputs, inits, out_type, domain_ms=True):
    graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("y", out_type, None)], inits)
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(MS, 1)] if domain_ms else [])
    m = helper.make_model(graph, opset_imports=opsets, producer_name="cvtool-quant-fixtures")
    m.ir_version = 7
    return m


def cases(rng):
    out = []
    for dt, npdt, tp in (("u8", np.uint8, TensorProto.UINT8), ("s8", np.int8, TensorProto.INT8)):
        lo, hi = (0, 256) if dt == "u8" else (-128, 128)
        rnd = lambda shape: rng.integers(lo, hi, size=shape).astype(npdt)
        zp = lambda: npdt(rng.integers(lo // 2 + 64 if dt == "u8" else -40, hi // 2 + 64 if dt == "u8" else 40))
        sc = lambda: np.float32(rng.uniform(0.005, 0.2))
        for op, bshape in (("QLinearAdd", (3, 1, 7)), ("QLinearAdd", (1,)), ("QLinearMul", (2, 3, 5, 7)), ("QLinearMul", (5, 1))):
            a, b = rnd((2, 3, 5, 7)), rnd(bshape)
            inits = [q_init("as", sc()), q_init("az", zp()), q_init("bs", sc()), q_init("bz", zp()), q_init("cs", sc()), q_init("cz", zp())]
            node = helper.make_node(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=MS)
            ins = [helper.make_tensor_value_info("a", tp, a.shape), helper.make_tensor_value_info("b", tp, b.shape)]
            out.append((f"{op.lower()}_{dt}_{'x'.join(map(str, bshape))}", build(op, [node], ins, inits, tp), [a, b]))
        for cl in (0, 1):
            x = rnd((2, 6, 5, 7)) if cl == 0 else rnd((2, 5, 7, 6))
            inits = [q_init("xs", sc()), q_init("xz", zp()), q_init("ys", np.float32(rng.uniform(0.01, 0.05))), q_init("yz", zp())]
            node = helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS, channels_last=cl)
            out.append((f"qlinearglobalaveragepool_{dt}_cl{cl}", build("gap", [node], [helper.make_tensor_value_info("x", tp, x.shape)], inits, tp), [x]))
        for op, attrs in (("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1})):
            x = rnd((256,))
            x[:] = np.arange(256).astype(np.int64).astype(npdt) if dt == "u8" else (np.arange(256) - 128).astype(npdt)
            inits = [q_init("xs", np.float32(rng.uniform(0.02, 0.1))), q_init("xz", zp()), q_init("ys", np.float32(rng.uniform(0.002, 0.01) if op == "QLinearSigmoid" else rng.uniform(0.02, 0.1))), q_init("yz", zp())]
            node = helper.make_node(op, ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS, **attrs)
            out.append((f"{op.lower()}_{dt}", build(op, [node], [helper.make_tensor_value_info("x", tp, x.shape)], inits, tp), [x]))
        x0, x1 = rnd((2, 3, 4)), rnd((2, 5, 4))
        inits = [q_init("ys", sc()), q_init("yz", zp()), q_init("s0", sc()), q_init("z0", zp()), None, None]
        # The second input shares Y's parameters: ORT's copy path; the first goes through the table.
        inits[4] = q_init("s1", numpy_helper.to_array(inits[0]))
        inits[5] = q_init("z1", numpy_helper.to_array(inits[1]))
        node = helper.make_node("QLinearConcat", ["ys", "yz", "x0", "s0", "z0", "x1", "s1", "z1"], ["y"], domain=MS, axis=1)
        ins = [helper.make_tensor_value_info("x0", tp, x0.shape), helper.make_tensor_value_info("x1", tp, x1.shape)]
        out.append((f"qlinearconcat_{dt}", build("concat", [node], ins, inits, tp), [x0, x1]))
    # QLinearConv u8 x s8 (7-bit weights), per-channel scales, bias, pads and stride; and depthwise.
    for name, cin, cout, group, k, stride in (("qlinearconv_u8s8", 5, 6, 1, 3, 2), ("qlinearconv_u8s8_dw", 6, 6, 6, 3, 1)):
        x = rng.integers(0, 256, size=(1, cin, 9, 11)).astype(np.uint8)
        w = rng.integers(-63, 64, size=(cout, cin // group, k, k)).astype(np.int8)
        inits = [q_init("xs", np.float32(0.02)), q_init("xz", np.uint8(117)), q_init("w", w),
                 q_init("ws", rng.uniform(0.002, 0.01, size=cout).astype(np.float32)), q_init("wz", np.zeros(cout, np.int8)),
                 q_init("ys", np.float32(0.05)), q_init("yz", np.uint8(100)), q_init("b", rng.integers(-2000, 2000, size=cout).astype(np.int32))]
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], group=group,
                                kernel_shape=[k, k], pads=[1, 1, 1, 1], strides=[stride, stride])
        out.append((name, build(name, [node], [helper.make_tensor_value_info("x", TensorProto.UINT8, x.shape)], inits, TensorProto.UINT8, False), [x]))
    a = rng.integers(0, 256, size=(3, 40)).astype(np.uint8)
    bm = rng.integers(-63, 64, size=(40, 17)).astype(np.int8)
    inits = [q_init("as", np.float32(0.03)), q_init("az", np.uint8(120)), q_init("b", bm), q_init("bs", np.float32(0.004)),
             q_init("bz", np.int8(0)), q_init("ys", np.float32(0.08)), q_init("yz", np.uint8(128))]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    out.append(("qlinearmatmul_u8s8", build("mm", [node], [helper.make_tensor_value_info("a", TensorProto.UINT8, a.shape)], inits, TensorProto.UINT8, False), [a]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "quant"))
    ap.add_argument("--seed", type=int, default=20240531)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    shutil.rmtree(a.out, ignore_errors=True)
    for name, model, inputs in cases(rng):
        d = os.path.join(a.out, name)
        os.makedirs(d)
        onnx.save(model, os.path.join(d, "model.onnx"))
        args = []
        for i, (vi, arr) in enumerate(zip(model.graph.input, inputs)):
            p = os.path.join(d, f"input_{i}.npy")
            np.save(p, arr)
            args += ["--input", f"{vi.name}={p}"]
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["node", os.path.join(ROOT, "scripts", "ort_run.mjs"), os.path.join(d, "model.onnx"), *args,
                                "--output-dir", tmp], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{name}: ORT failed: {r.stderr}")
            info = json.loads(r.stdout)
            shutil.copy(os.path.join(tmp, "y.npy"), os.path.join(d, "output.npy"))
        print(name, info["ort_version"])


if __name__ == "__main__":
    main()
