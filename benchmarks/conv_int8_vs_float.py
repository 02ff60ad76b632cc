"""Is int8 faster than float32 for one convolution on this CPU? LiteRT + XNNPACK, one thread, one-operator models.

Every int8-vs-float claim of the product (issues 20 and 21: "LiteRT int8 clearly faster than float") rests on
the convolutions, which carry the MACs. This probe writes one CONV_2D per shape of a Conv-TasNet (1x1 bottleneck
/ expansion convs of the tiny, speech and full-size models at 4 s of 8 kHz audio = 3999 frames, and the
encoder), once float32 and once int8 (per-channel int8 weights, int32 bias, as the exporter writes them), and
times them round-robin in one run (each model alternately, ``--rounds`` x ``--runs`` invocations each; the
median per model). Reports ms, GMAC/s and the float/int8 time ratio (> 1: int8 faster).

    .venv/bin/python benchmarks/conv_int8_vs_float.py

Writes ``benchmarks/results/conv_int8_vs_float.{json,md}`` with the CPU's model name and SIMD flags: XNNPACK
picks its int8 kernels by them (AVX2 vs AVX-512 / VNNI on x86, NEON / dot product on ARM), so the ratio is a
property of the machine, not of the model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from fqss_edge.export.tflite.builder import ModelBuilder, Quant

from fqss_edge.bench.report import cpu_info

ROOT = Path(__file__).resolve().parents[1]
B = schema.BuiltinOperator
T = 3999  # frames of 4 s at 8 kHz, stride 8
# (label, C_in, C_out, kernel, stride, input frames)
SHAPES = [
    ("tiny 1x1 32->64", 32, 64, 1, 1, T), ("tiny 1x1 64->32", 64, 32, 1, 1, T),
    ("speech 1x1 64->128", 64, 128, 1, 1, T), ("speech 1x1 128->64", 128, 64, 1, 1, T),
    ("full 1x1 128->512", 128, 512, 1, 1, T), ("full 1x1 512->128", 512, 128, 1, 1, T),
    ("encoder K16/8 2->64 (int8) / 1->64 (float)", 2, 64, 16, 8, 8 * T + 8),
]


def conv_model(c_in: int, c_out: int, k: int, stride: int, frames: int, int8: bool) -> bytes:
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    out_frames = (frames - k) // stride + 1
    if int8:
        s_w = rng.uniform(0.002, 0.02, c_out).astype(np.float32)
        x = b.tensor("x", (1, 1, frames, c_in), np.int8, Quant.make(0.05, 3))
        w = b.const("w", rng.integers(-127, 128, (c_out, 1, k, c_in)).astype(np.int8),
                    Quant.make(s_w, np.zeros(c_out), 0))
        bias = b.const("b", rng.integers(-3000, 3000, c_out).astype(np.int32),
                       Quant.make(np.float32(0.05) * s_w, np.zeros(c_out), 0))
        y = b.tensor("y", (1, 1, out_frames, c_out), np.int8, Quant.make(0.1, -2))
    else:
        c_in = 1 if k > 1 else c_in  # the float encoder reads PCM, one channel (int8: two byte channels)
        x = b.tensor("x", (1, 1, frames, c_in), np.float32)
        w = b.const("w", rng.normal(0, 0.1, (c_out, 1, k, c_in)).astype(np.float32))
        bias = b.const("b", rng.normal(0, 0.1, c_out).astype(np.float32))
        y = b.tensor("y", (1, 1, out_frames, c_out), np.float32)
    opt = schema.Conv2DOptionsT()
    opt.padding = schema.Padding.VALID
    opt.strideW, opt.strideH = stride, 1
    opt.dilationWFactor, opt.dilationHFactor = 1, 1
    b.op(B.CONV_2D, [x, w, bias], [y], opt)
    return b.build([x], [y])


def interpreter(buf: bytes, tmp: Path, name: str) -> Interpreter:
    path = tmp / f"{name}.tflite"
    path.write_bytes(buf)
    it = Interpreter(model_path=str(path), num_threads=1)  # default resolver: XNNPACK
    it.allocate_tensors()
    d = it.get_input_details()[0]
    rng = np.random.default_rng(1)
    x = (rng.integers(-128, 128, d["shape"]).astype(np.int8) if d["dtype"] == np.int8
         else rng.standard_normal(d["shape"]).astype(np.float32))
    it.set_tensor(d["index"], x)
    it.invoke()  # first inference (XNNPACK packs the weights)
    return it


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=5, help="invocations per model per round")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, c_in, c_out, k, stride, frames in SHAPES:
            its = {kind: interpreter(conv_model(c_in, c_out, k, stride, frames, kind == "int8"), Path(tmp), kind)
                   for kind in ("float32", "int8")}
            times: dict[str, list[float]] = {kind: [] for kind in its}
            for _ in range(args.rounds):
                for kind, it in its.items():
                    t = time.perf_counter()
                    for _ in range(args.runs):
                        it.invoke()
                    times[kind].append((time.perf_counter() - t) / args.runs * 1e3)
            out_frames = (frames - k) // stride + 1
            macs = {"float32": out_frames * c_out * k * (1 if k > 1 else c_in), "int8": out_frames * c_out * k * c_in}
            ms = {kind: statistics.median(v) for kind, v in times.items()}
            rows.append({"shape": label, "float32_ms": round(ms["float32"], 3), "int8_ms": round(ms["int8"], 3),
                         "float32_gmac_s": round(macs["float32"] / ms["float32"] / 1e6, 1),
                         "int8_gmac_s": round(macs["int8"] / ms["int8"] / 1e6, 1),
                         "int8_speedup": round(ms["float32"] / ms["int8"], 2)})
            print(rows[-1], flush=True)
    cpu = cpu_info()
    rec = {"command": "python benchmarks/conv_int8_vs_float.py", "ai_edge_litert": version("ai-edge-litert"),
           "machine": platform.machine(), "cpu": cpu, "rounds": args.rounds, "runs": args.runs, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conv_int8_vs_float.json").write_text(json.dumps(rec, indent=2))
    md = ["# One convolution, int8 vs float32 (LiteRT + XNNPACK, 1 thread)", "",
          f"`{rec['command']}` with ai-edge-litert {rec['ai_edge_litert']} on {cpu['model']} ({rec['machine']}; "
          f"SIMD: {', '.join(cpu['simd']) or 'none found'}). Median of {args.rounds} round-robin rounds x "
          f"{args.runs} invocations per model. Speed-up > 1: int8 faster.", "",
          "| convolution | float32 ms | int8 ms | float32 GMAC/s | int8 GMAC/s | int8 speed-up |",
          "|---|---|---|---|---|---|"]
    md += [f"| {r['shape']} | {r['float32_ms']} | {r['int8_ms']} | {r['float32_gmac_s']} | {r['int8_gmac_s']} | "
           f"{r['int8_speedup']}x |" for r in rows]
    (args.out / "conv_int8_vs_float.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
