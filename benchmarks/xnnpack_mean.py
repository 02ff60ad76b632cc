"""XNNPACK's int8 MEAN against TFLite's reference kernel, by the shape of the reduction (one-operator models).

The gLN of every fqss-edge model takes one mean over time and channels. Written as one MEAN over the last two
axes of ``[1, 1, T, C]``, the installed LiteRT's XNNPACK delegate returned values up to 178 LSB off BUILTIN_REF
on the shipped model (its XNNPACK output at 5 dB SQNR). This probe writes one MEAN per case, feeds the same codes
to BUILTIN_REF and to the default (XNNPACK) resolver, and records the largest difference, for the reductions the
exporter could write:

* ``[T, C]`` over both axes (what the exporter wrote before), ``[1, N]`` over the innermost axis;
* ``[N, 1]`` over an axis followed by a unit axis (what ``export/tflite/ops/reduce_mean.py`` writes now for an
  int8 MEAN over the innermost axis or over several adjacent axes: a RESHAPE, then this MEAN).

Inputs: post-ReLU-like codes (zero point -128, mostly at -128: ``-128 + 70 u^8``), constant codes and uniform
codes; output scales that keep the mean unsaturated. Run it again after upgrading ai-edge-litert.

    .venv/bin/python benchmarks/xnnpack_mean.py

Writes ``benchmarks/results/xnnpack_mean.{json,md}``.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant

ROOT = Path(__file__).resolve().parents[1]
S_IN = 0.0035


def run_mean(codes: np.ndarray, axes: tuple[int, ...], zp_in: int, ratio: float) -> tuple[int, int]:
    """(BUILTIN_REF, XNNPACK) of one MEAN of ``codes`` (keepdims); output scale ``S_IN / ratio``, zero point
    ``zp_in``."""
    b = ModelBuilder()
    x = b.tensor("x", codes.shape, np.int8, Quant.make(S_IN, zp_in))
    y = b.tensor("y", tuple(1 if i in axes else d for i, d in enumerate(codes.shape)), np.int8,
                 Quant.make(S_IN / ratio, zp_in))
    opt = schema.ReducerOptionsT()
    opt.keepDims = True
    b.op(B.MEAN, [x, b.const("axes", np.array(axes, np.int32))], [y], opt)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mean.tflite"
        path.write_bytes(b.build([x], [y]))
        for resolver in (OpResolverType.BUILTIN_REF, OpResolverType.AUTO):
            it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver, num_threads=1)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], codes)
            it.invoke()
            out.append(int(it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)[0]))
    return out[0], out[1]


def inputs(n: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, int, float]]:
    """name -> (codes, input zero point, scale ratio s_in / s_out keeping the mean inside int8)."""
    return {"post-ReLU": ((-128 + 70 * rng.random(n) ** 8).astype(np.int8), -128, 4.0),
            "constant -100": (np.full(n, -100, np.int8), -128, 2.0),
            "uniform, zero point 0": (rng.integers(-128, 128, n).astype(np.int8), 0, 8.0)}


def main() -> int:
    rng = np.random.default_rng(0)
    layouts = {"[T, C] over both (before)": lambda c, t: (c.reshape(1, 1, t, -1), (2, 3)),
               "[1, N] innermost": lambda c, t: (c.reshape(1, 1, 1, -1), (3,)),
               "[N, 1] (written now)": lambda c, t: (c.reshape(1, 1, -1, 1), (2,))}
    rows = []
    for t, ch in ((64, 64), (128, 64), (200, 64), (3696, 64), (8000, 512)):
        for name, (codes, zp, ratio) in inputs(t * ch, rng).items():
            for layout, shape in layouts.items():
                c, axes = shape(codes, t)
                ref, xnn = run_mean(c, axes, zp, ratio)
                rows.append({"values": t * ch, "T": t, "C": ch, "input": name, "layout": layout, "ref": ref,
                             "xnnpack": xnn, "lsb": abs(ref - xnn)})
    rec = {"command": "python benchmarks/xnnpack_mean.py", "ai_edge_litert": version("ai-edge-litert"),
           "machine": platform.machine(), "rows": rows}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "xnnpack_mean.json").write_text(json.dumps(rec, indent=2))
    md = ["# XNNPACK's int8 MEAN vs BUILTIN_REF, by reduction layout", "",
          f"`{rec['command']}` with ai-edge-litert {rec['ai_edge_litert']} ({rec['machine']}), 1 thread. "
          "|ref - xnnpack| in output LSB.", "",
          "| values | T x C | input | layout | REF | XNNPACK | LSB |", "|---:|---|---|---|---:|---:|---:|"]
    md += [f"| {r['values']:,} | {r['T']} x {r['C']} | {r['input']} | {r['layout']} | {r['ref']} | {r['xnnpack']} "
           f"| {r['lsb']} |" for r in rows]
    worst = {layout: max(r["lsb"] for r in rows if r["layout"] == layout) for layout in layouts}
    md += ["", "Largest difference per layout: " + ", ".join(f"{k}: {v} LSB" for k, v in worst.items()) + "."]
    (out / "xnnpack_mean.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
