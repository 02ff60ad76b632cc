"""A per-channel int8 PReLU in TFLite: which form is exact enough and fastest with LiteRT's XNNPACK delegate.

XNNPACK does not take int8 PRELU (PLATFORM_FACTS), so a per-channel PReLU runs on TFLite's single-threaded kernel
in its own partition. This script writes one model per candidate form of y = x >= 0 ? x : a_c x on an int8
[1, 1, T, C] activation (C = 512, T = 1000: a Conv-TasNet bottleneck-size tensor), runs it with LiteRT's
reference kernels and with XNNPACK, and records

* the largest difference, in output LSB, from onnxruntime's semantics (float32 PReLU of the dequantized input,
  rounded half to even into the output quantization: what a DQ -> PRelu -> Q graph computes), over random codes;
* how many of its operators XNNPACK took, and the median latency of one invoke (1 thread).

Candidates (a_c per channel, alpha int8 per tensor, max|a| / 127):
  prelu        PRELU(x, alpha)                                            (what the converter writes)
  mul_max      MAXIMUM(QUANTIZE(x -> y's quantization), MUL(x, alpha))   (valid for every a_c <= 1)
  split_add    ADD(MAXIMUM(x, z_x), MUL(MINIMUM(x, z_x), alpha))          (any a_c)
  leaky_relu   LEAKY_RELU(x, one slope)                                  (the one-slope form, for speed only)
  float_prelu  DEQUANTIZE -> float32 PRELU -> QUANTIZE                    (not integer-only; for comparison)

    .venv/bin/python benchmarks/prelu_int8.py [--length 1000] [--channels 512] [--runs 50]

Writes ``benchmarks/results/prelu_int8.{json,md}``. Timings on a shared machine: compare them with each other.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

ROOT = Path(__file__).resolve().parents[1]
S_X, Z_X, S_Y, Z_Y = np.float32(0.05), 3, np.float32(0.04), -20


def _alpha(c: int) -> tuple[np.ndarray, np.ndarray, np.float32]:
    a = np.linspace(-0.2, 0.6, c).astype(np.float32)
    s = np.float32(np.abs(a).max() / 127)
    return a, np.clip(np.round(a / s), -127, 127).astype(np.int8), s


def build(form: str, t: int, c: int) -> bytes:
    b = ModelBuilder()
    qx, qy = Quant.make(S_X, Z_X), Quant.make(S_Y, Z_Y)
    shape = (1, 1, t, c)
    _, codes, s_a = _alpha(c)
    alpha = b.const("alpha", codes.reshape(1, 1, 1, c), Quant.make(s_a, 0))
    x = b.tensor("x", shape, np.int8, qx)
    y = b.tensor("y", shape, np.int8, qy)
    if form == "prelu":
        b.op(B.PRELU, [x, alpha], [y])
    elif form == "leaky_relu":
        opt = schema.LeakyReluOptionsT()
        opt.alpha = 0.25
        b.op(B.LEAKY_RELU, [x], [y], opt)
    elif form == "mul_max":
        m = b.tensor("ax", shape, np.int8, qy)
        r = b.tensor("x_y", shape, np.int8, qy)
        b.op(B.MUL, [x, alpha], [m], schema.MulOptionsT())
        b.op(B.QUANTIZE, [x], [r])
        b.op(B.MAXIMUM, [r, m], [y])
    elif form == "split_add":
        zero = b.const("zero", np.full((1, 1, 1, 1), Z_X, np.int8), qx)
        p, n, an = (b.tensor(k, shape, np.int8, q) for k, q in (("pos", qx), ("neg", qx), ("aneg", qy)))
        b.op(B.MAXIMUM, [x, zero], [p])
        b.op(B.MINIMUM, [x, zero], [n])
        b.op(B.MUL, [n, alpha], [an], schema.MulOptionsT())
        b.op(B.ADD, [p, an], [y], schema.AddOptionsT())
    elif form == "float_prelu":
        xf, yf = b.tensor("xf", shape, np.float32), b.tensor("yf", shape, np.float32)
        af = b.const("alpha_f", _alpha(c)[0].reshape(1, 1, 1, c))
        b.op(B.DEQUANTIZE, [x], [xf])
        b.op(B.PRELU, [xf, af], [yf])
        b.op(B.QUANTIZE, [yf], [y])
    return b.build([x], [y])


def onnxruntime_semantics(x: np.ndarray, c: int) -> np.ndarray:
    a = _alpha(c)[0]
    v = (x.astype(np.float32) - np.float32(Z_X)) * S_X
    v = np.where(v >= 0, v, v * a.reshape(1, 1, 1, c)).astype(np.float32)
    return np.clip(np.round(v / S_Y) + Z_Y, -128, 127).astype(np.int8)


def run(path: Path, x: np.ndarray, resolver, runs: int = 0) -> tuple[np.ndarray, float]:
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver, num_threads=1)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    it.set_tensor(i, x)
    it.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        it.invoke()
        times.append(time.perf_counter() - t0)
    return it.get_tensor(o), (statistics.median(times) * 1e6 if times else float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=512)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    t, c = args.length, args.channels
    x = np.random.default_rng(0).integers(-128, 128, (1, 1, t, c)).astype(np.int8)
    want = onnxruntime_semantics(x, c).astype(np.int32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for form in ("prelu", "mul_max", "split_add", "leaky_relu", "float_prelu"):
            path = Path(tmp) / f"{form}.tflite"
            path.write_bytes(build(form, t, c))
            d = xnnpack_delegation(path)
            y_ref, _ = run(path, x, OpResolverType.BUILTIN_REF)
            y_xnn, us = run(path, x, OpResolverType.AUTO, args.runs)
            exact = form != "leaky_relu"
            rows.append({"form": form, "operators": d["operators"], "delegated": d["delegated"],
                         "lsb_ref": int(np.abs(y_ref.astype(np.int32) - want).max()) if exact else None,
                         "lsb_xnnpack": int(np.abs(y_xnn.astype(np.int32) - want).max()) if exact else None,
                         "median_us": round(us, 1)})
            print(rows[-1])
    rec = {"command": f"python benchmarks/prelu_int8.py --length {t} --channels {c} --runs {args.runs}",
           "ai_edge_litert": version("ai-edge-litert"), "machine": platform.machine(), "shape": [1, 1, t, c],
           "rows": rows}
    out = ROOT / "benchmarks" / "results"
    (out / "prelu_int8.json").write_text(json.dumps(rec, indent=2) + "\n")
    lines = ["# Per-channel int8 PReLU forms in LiteRT (XNNPACK, 1 thread)", "",
             f"`{rec['command']}` with ai-edge-litert {rec['ai_edge_litert']} ({rec['machine']}, shared 2-core "
             f"machine: compare rows with each other). int8 [1, 1, {t}, {c}], slopes -0.2 .. 0.6 per channel. LSB: "
             "largest difference from onnxruntime's semantics (float32 PReLU of the dequantized input, rounded into "
             "the output quantization) over random codes; leaky_relu has one slope (speed only).", "",
             "| form | operators | taken by XNNPACK | LSB (REF) | LSB (XNNPACK) | median µs |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['form']} | {r['operators']} | {r['delegated']} | {r['lsb_ref'] if r['lsb_ref'] is not None else '-'} | "
                     f"{r['lsb_xnnpack'] if r['lsb_xnnpack'] is not None else '-'} | {r['median_us']} |")
    (out / "prelu_int8.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
