"""XNNPACK's int8 MEAN against TFLite's reference kernel, by the shape of the reduction (one-operator models):
exactness and speed.

The gLN of every fqss-edge model takes int8 means over time and channels (three per gLN with ``norm_bits: 8``).
This probe writes one MEAN per case, feeds the same codes to BUILTIN_REF and to the default (XNNPACK) resolver,
records the largest difference in output LSB and XNNPACK's time (median of round-robin repeats, all layouts of a
case side by side in this process), for the reductions the exporter could write, the data laid out ``[T, C]``
(channels innermost, as in the ``.tflite``):

* ``[T, C]`` over both axes (written until Dec 3), ``[1, N]`` over the innermost axis: XNNPACK's contiguous
  ``qs8_rsum`` microkernel sums the whole reduction in one call, in int16 lanes that wrap past 8192 values of one
  sign (see ``benchmarks/results/xnnpack_mean.md`` for the source reading);
* ``[N, 1]`` over ``N`` (written from Dec 3 to the change that adds this column): the discontiguous ``qs8_rdsum``
  microkernel with one channel: exact, but one value per 16-byte load;
* ``[T, 1, C]`` over ``T`` and ``C``: the unit axis keeps XNNPACK from merging the two reduced axes, so the
  contiguous microkernel is called once per row of ``C`` values (exact up to 8192 values a call) and the rows are
  added in int32.

Inputs: post-ReLU-like codes (zero point -128), constant codes, codes around zero points -94 and 100, uniform
codes at zero point 0; output scales that keep the mean unsaturated. Run it again after upgrading ai-edge-litert.

    .venv/bin/python benchmarks/xnnpack_mean.py [--repeats 15]

Writes ``benchmarks/results/xnnpack_mean.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant

ROOT = Path(__file__).resolve().parents[1]
S_IN = 0.0035
# layout name -> (shape of the [T, C] codes, reduced axes)
LAYOUTS = {"[T, C] over both (Nov 22)": lambda t, c: ((1, 1, t, c), (2, 3)),
           "[1, N] innermost": lambda t, c: ((1, 1, 1, t * c), (3,)),
           "[N, 1] (Dec 3)": lambda t, c: ((1, 1, t * c, 1), (2,)),
           "[T, 1, C] over T and C": lambda t, c: ((1, t, 1, c), (1, 3))}
# What the source says (read Dec 3 at google/XNNPACK 75db3c0 and google-ai-edge/LiteRT f674577, the newest
# snapshots; the wheel's own XNNPACK commit is not recorded, the measurements below agree with this reading)
FACTS = """## Why: XNNPACK's int8 MEAN, from its source

* The delegate (LiteRT `tflite/delegates/xnnpack/xnnpack_delegate.cc`, `VisitReduceNode`) maps an int8 MEAN to
  `xnn_define_static_reduce_v2(xnn_reduce_mean, axes, XNN_FLAG_KEEP_DIMS)`, whatever the axes.
* `src/normalization.c` (`xnn_normalize_reduction`) merges adjacent reduced axes and adjacent kept axes, and keeps
  unit axes. `src/operators/reduce-nd.c`: when the last normalized axis is reduced, the *contiguous* path
  (`xnn_compute_contiguous_reduce`, `src/operator-run.c`) calls the `qs8_rsum` microkernel once per innermost row
  and adds (`*output +=`) into an int32 accumulator per output; otherwise the *discontiguous* path calls the
  `qs8_rdsum` microkernel over the rows, with the innermost kept axis as its channels.
* The int32 accumulator sums the raw codes (no zero point); the zero point and scales are applied once at the end,
  in float, by the int32 -> qs8 convert kernel: `inv_y_scale = s_in / (n s_out)`,
  `y_zero_point' = zp_out - n zp_in inv_y_scale`.
* On this AVX2 host (`src/configs/reduce-config.c`): contiguous `xnn_qs8_rsum_ukernel__avx2_u64_acc2`,
  discontiguous `xnn_qs8_rdsum_ukernel_7p7x__avx2_u64` (64 channels a tile).
* **The saturation**: `qs8_rsum avx2` adds pairs of codes (`_mm256_maddubs_epi16` with ones: [-256, 254] per
  lane) into int16 lanes for up to 256 iterations (blocks of 16384 values; the tail below 16384: up to 255); its
  comment ("256 int8s may be summed into an int16") forgets that each lane gets two codes an iteration. Past 128
  iterations of one sign (8192 + 63 values in one call) a lane wraps, the int32 sum is wrong and the output
  saturates or lands anywhere. Codes on one side of 0 (a nonzero zero point: post-ReLU codes at -128, codes
  above 100) wrap; codes centred on 0 random-walk and usually do not. `ssse3_u32_acc2` has the same flaw at 4096
  values a call; `avx512skx` (128 iterations a block) and NEON (`vpadalq_s8`, 128 iterations) do not.
* **Why `[N, 1]` is slow**: the kept unit axis is innermost, so the discontiguous `qs8_rdsum` runs with one channel:
  16-byte loads widened to int16 for one useful code, 7 rows a pass (it is exact: int16 partial sums over blocks of
  252 rows, 252 x 128 < 32768, then int32).
* **`[T, 1, C]` over `T` and `C`**: the unit axis between them stops the merge, `C` stays the innermost reduced
  axis, so the contiguous kernel runs once per row of `C` values (exact while a row has <= 8192 values with AVX2,
  <= 4096 with SSSE3) and the rows are added in int32 (exact to 2^31 / 128 = 16.7M values). Same int32 sum and
  requantization as BUILTIN_REF's kernel, so REF does not change.
"""
SHAPES = ((64, 64), (128, 64), (200, 64), (1001, 64), (4001, 64), (1001, 512), (4001, 512), (8000, 512))


def mean_model(shape: tuple[int, ...], axes: tuple[int, ...], zp_in: int, ratio: float, zp_out: int) -> bytes:
    """One MEAN (keepdims) of int8 codes of ``shape``; input scale ``S_IN``, output ``S_IN / ratio``."""
    b = ModelBuilder()
    x = b.tensor("x", shape, np.int8, Quant.make(S_IN, zp_in))
    y = b.tensor("y", tuple(1 if i in axes else d for i, d in enumerate(shape)), np.int8,
                 Quant.make(S_IN / ratio, zp_out))
    opt = schema.ReducerOptionsT()
    opt.keepDims = True
    b.op(B.MEAN, [x, b.const("axes", np.array(axes, np.int32))], [y], opt)
    return b.build([x], [y])


def interpreter(buf: bytes, resolver: OpResolverType, codes: np.ndarray) -> Interpreter:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mean.tflite"
        path.write_bytes(buf)
        it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver, num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], codes)
    return it


def output(it: Interpreter) -> int:
    it.invoke()
    return int(it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)[0])


def inputs(n: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, int, float, int]]:
    """name -> (codes, input zero point, scale ratio s_in / s_out, output zero point): the mean inside int8."""
    return {"post-ReLU, zp -128": ((-128 + 70 * rng.random(n) ** 8).astype(np.int8), -128, 4.0, -128),
            "constant -100, zp -128": (np.full(n, -100, np.int8), -128, 2.0, -128),
            "around -94 (+-30), zp -94": (np.clip(np.rint(-94 + 30 * rng.standard_normal(n) + 20), -128, 127)
                                          .astype(np.int8), -94, 4.0, -94),
            "constant 127, zp 100": (np.full(n, 127, np.int8), 100, 1.0, 90),
            "uniform, zp 0": (rng.integers(-128, 128, n).astype(np.int8), 0, 8.0, 0)}


def measure(t: int, c: int, codes: np.ndarray, zp: int, ratio: float, zp_out: int, repeats: int) -> list[dict]:
    """Every layout of one case: REF and XNNPACK outputs, XNNPACK's median time (round-robin over layouts)."""
    xnn, rows = {}, []
    for layout, form in LAYOUTS.items():
        shape, axes = form(t, c)
        buf = mean_model(shape, axes, zp, ratio, zp_out)
        ref = output(interpreter(buf, OpResolverType.BUILTIN_REF, codes.reshape(shape)))
        xnn[layout] = interpreter(buf, OpResolverType.AUTO, codes.reshape(shape))
        rows.append({"layout": layout, "ref": ref, "xnnpack": output(xnn[layout])})
    times = {layout: [] for layout in LAYOUTS}
    for _ in range(repeats):
        for layout, it in xnn.items():
            t0 = time.perf_counter()
            it.invoke()
            times[layout].append(time.perf_counter() - t0)
    for r in rows:
        r.update(lsb=abs(r["ref"] - r["xnnpack"]), xnnpack_ms=1e3 * float(np.median(times[r["layout"]])))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for t, ch in SHAPES:
        for name, (codes, zp, ratio, zp_out) in inputs(t * ch, rng).items():
            for r in measure(t, ch, codes, zp, ratio, zp_out, args.repeats):
                rows.append({"values": t * ch, "T": t, "C": ch, "input": name, **r})
                print(rows[-1], flush=True)
    rec = {"command": f"python benchmarks/xnnpack_mean.py --repeats {args.repeats}",
           "ai_edge_litert": version("ai-edge-litert"), "machine": platform.machine(), "rows": rows}
    write(rec)
    return 0


def write(rec: dict) -> None:
    rows = rec["rows"]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "xnnpack_mean.json").write_text(json.dumps(rec, indent=2))
    md = ["# XNNPACK's int8 MEAN vs BUILTIN_REF, by reduction layout", "",
          f"`{rec['command']}` with ai-edge-litert {rec['ai_edge_litert']} ({rec['machine']}), 1 thread. "
          "LSB: |REF - XNNPACK| in output LSB; time: XNNPACK's invoke, median of the repeats, the layouts of a row "
          "group run round-robin in one process (a shared 2-core machine: compare within a group).", "",
          "| values | T x C | input | layout | REF | XNNPACK | LSB | XNNPACK ms |",
          "|---:|---|---|---|---:|---:|---:|---:|"]
    md += [f"| {r['values']:,} | {r['T']} x {r['C']} | {r['input']} | {r['layout']} | {r['ref']} | {r['xnnpack']} "
           f"| {r['lsb']} | {r['xnnpack_ms']:.3f} |" for r in rows]
    md += ["", FACTS, "## Summary", "", "| layout | largest LSB | median ms, 4001 x 512 | median ms, 8000 x 512 | median ms, 4001 x 64 |",
           "|---|---:|---:|---:|---:|"]
    for layout in LAYOUTS:
        mine = [r for r in rows if r["layout"] == layout]
        ms = {shape: np.median([r["xnnpack_ms"] for r in mine if (r["T"], r["C"]) == shape])
              for shape in ((4001, 512), (8000, 512), (4001, 64))}
        md.append(f"| {layout} | {max(r['lsb'] for r in mine)} | {ms[(4001, 512)]:.3f} | {ms[(8000, 512)]:.3f} "
                  f"| {ms[(4001, 64)]:.3f} |")
    (out / "xnnpack_mean.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
