"""What TFLite's LSTM costs at the sizes of DPRNN and DPTNet on 4 s of 8 kHz audio (1 thread): one bidirectional
layer (two UNIDIRECTIONAL_SEQUENCE_LSTM + REVERSE_V2 + CONCATENATION), fully integer (8x8_16) vs float32, with
LiteRT's default resolver (XNNPACK delegate applied; it takes no LSTM) and the BUILTIN kernels. Random weights:
the kernels' cost does not depend on the values.

Shapes (time major [T, B, C], the batch being the other dual-path axis):
* DPRNN (asteroid DPRNNTasNet defaults: kernel 16, stride 8 -> 4000 frames, bn_chan 128, hidden 128, chunk 100,
  hop 50 -> 81 chunks): intra-chunk T=100, B=81; inter-chunk T=81, B=100; 6 repeats = 12 such layers.
* DPTNet (FQSS recipe: kernel 2, stride 1 -> 32000 frames, feature 64, hidden 128, chunk 250, hop 125 -> 257
  chunks): intra T=250, B=257; inter T=257, B=250; 6 repeats = 12 layers.

    .venv/bin/python benchmarks/lstm_kernel.py [--runs 3]

Writes ``benchmarks/results/lstm_kernel.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant
from fqss_edge.export.tflite.ops._lstm import write_float_lstm, write_lstm
from fqss_edge.quant.layers.lstm import LstmCodes

ROOT = Path(__file__).resolve().parents[1]
# name, T, B, C_in, hidden, layers per model
SHAPES = [("DPRNN intra", 100, 81, 128, 128, 6), ("DPRNN inter", 81, 100, 128, 128, 6),
          ("DPTNet intra", 250, 257, 64, 128, 6), ("DPTNet inter", 257, 250, 64, 128, 6)]


def bilstm(t: int, batch: int, n_in: int, hidden: int, integer: bool) -> bytes:
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    q = Quant.make(0.02, 3)
    x = b.tensor("x", (t, batch, n_in), np.int8 if integer else np.float32, q if integer else None)
    outs = []
    for d in range(2):
        if integer:
            codes = LstmCodes(rng.integers(-127, 128, (4, hidden, n_in)).astype(np.int8), (0.01,) * 4,
                              rng.integers(-127, 128, (4, hidden, hidden)).astype(np.int8), (0.01,) * 4,
                              rng.integers(-2000, 2000, (4, hidden)).astype(np.int32), -12)
            outs.append(write_lstm(b, x, codes, q, f"lstm{d}", reverse=d == 1, time_major=True))
        else:
            w, r = rng.normal(0, 0.1, (4, hidden, n_in)), rng.normal(0, 0.1, (4, hidden, hidden))
            outs.append(write_float_lstm(b, x, w, r, rng.normal(0, 0.1, (4, hidden)), f"lstm{d}", d == 1, True))
    y = b.tensor("y", (t, batch, 2 * hidden), outs[0].dtype, q if integer else None)
    opts = schema.ConcatenationOptionsT()
    opts.axis = 2
    b.op(B.CONCATENATION, outs, [y], opts)
    return b.build([x], [y])


def time_it(buf: bytes, resolver: OpResolverType, runs: int) -> float:
    it = Interpreter(model_content=buf, experimental_op_resolver_type=resolver, num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(1).integers(-100, 100, d["shape"]).astype(d["dtype"])
    best = float("inf")
    for _ in range(runs):
        it.reset_all_variables()
        it.set_tensor(d["index"], x)
        t0 = time.perf_counter()
        it.invoke()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for name, t, batch, n_in, hidden, layers in SHAPES:
        row = {"layer": name, "T": t, "B": batch, "C_in": n_in, "hidden": hidden, "layers_per_model": layers}
        for prec in ("int8", "float32"):
            buf = bilstm(t, batch, n_in, hidden, prec == "int8")
            for label, res in (("default", OpResolverType.AUTO), ("builtin", OpResolverType.BUILTIN)):
                row[f"{prec}_{label}_ms"] = round(1000 * time_it(buf, res, args.runs), 1)
        rows.append(row)
        print(row, flush=True)
    out = ROOT / "benchmarks" / "results"
    meta = {"machine": platform.machine(), "processor": platform.processor(), "litert": version("ai-edge-litert"),
            "threads": 1, "runs": args.runs, "statistic": "best of runs, one bidirectional layer"}
    (out / "lstm_kernel.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = ["# TFLite LSTM cost at DPRNN / DPTNet sizes (4 s of 8 kHz audio, 1 thread)", "",
             f"`benchmarks/lstm_kernel.py`, LiteRT {meta['litert']}, {meta['machine']}, best of {args.runs} runs, "
             "one bidirectional layer (2 x UNIDIRECTIONAL_SEQUENCE_LSTM + REVERSE_V2 + CONCATENATION), random "
             "weights. `default` = LiteRT's default resolver (XNNPACK delegate applied: it takes no LSTM, so the "
             "LSTM runs in TFLite's kernel there too), `builtin` = BUILTIN kernels.", "",
             "| layer | T | B | C_in | hidden | int8 default ms | int8 builtin ms | float32 default ms | "
             "float32 builtin ms | per model (x layers), int8 / float32 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["layers_per_model"]
        lines.append(f"| {r['layer']} | {r['T']} | {r['B']} | {r['C_in']} | {r['hidden']} | {r['int8_default_ms']} | "
                     f"{r['int8_builtin_ms']} | {r['float32_default_ms']} | {r['float32_builtin_ms']} | "
                     f"{n} x: {n * r['int8_default_ms']:.0f} / {n * r['float32_default_ms']:.0f} |")
    (out / "lstm_kernel.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
