"""ONNX Sqrt -> Reciprocal (DQ -> Sqrt -> Reciprocal -> Q, the Sqrt output not quantized) -> TFLite RSQRT.

int8 in and out: XNNPACK has no int8 RSQRT, and each one the gLNs leave to TFLite splits the delegated graph (49
partitions on the full Conv-TasNet). When it is exact, the int8 RSQRT is written as a float island of the
simulation's own formula (``QGlobalLayerNorm``: ``Q(rsqrt(max(DQ(x), 1e-12)))``), DEQUANTIZE -> MAXIMUM ->
RSQRT -> QUANTIZE, which XNNPACK takes (``_float_island``). Exact means: on each of the 256 input codes, the float
value that the output code rounds is farther than ``TIE_MARGIN`` (relative) from a rounding boundary, so that no
float32 rounding of any runtime (1/sqrt or an estimate refined by Newton steps, a division or a product by
1/scale, ties to even or away from zero) can pick another code. ``island_codes`` checks it at export.

Where some code lies within the margin (7 % of 2,000 random gLN-like scale sets; one of the 49 gLNs of a calibrated
full Conv-TasNet, whose int8 RSQRT split XNNPACK's graph in two), the island multiplies the 1/sqrt by a float32
nudge k = 1 +- j 2^-18 before QUANTIZE (``_float_island.island_plan``): only the near-tie codes may move, by one.
Where no nudge clears them (1 of those 2,000 sets) the int8 RSQRT is written (TFLite's fixed-point
GetInvSqrtQuantizedMultiplierExp).
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops import _float_island
from fqss_edge.export.tflite.ops._float_island import ISLAND_TENSORS, exact_codes, float_tensor, island_input, nudged
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register

RSQRT_FLOOR = np.float32(1e-12)  # the simulation's clamp before rsqrt (fqss_edge/quant/layers/norm.py)


def _rsqrt(v: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(np.maximum(v, np.float64(RSQRT_FLOOR)))


def island_codes(s_in: float, z_in: int, s_out: float, z_out: int) -> np.ndarray | None:
    """The int8 output code of ``Q(rsqrt(max(DQ(c), 1e-12)))`` for every int8 input code c (index c + 128), or
    None when some code's value lies within ``TIE_MARGIN`` of a rounding boundary."""
    return exact_codes(_rsqrt, s_in, z_in, s_out, z_out)


def island_plan(s_in: float, z_in: int, s_out: float, z_out: int) -> tuple[np.ndarray, np.float32 | None] | None:
    """(codes, nudge) of the int8 RSQRT written as a float island: nudge None for the plain island (``island_codes``
    exact), else the float32 factor k applied after RSQRT; None when neither is exact (the int8 RSQRT is written)."""
    return _float_island.island_plan(_rsqrt, s_in, z_in, s_out, z_out)


@register("Sqrt", writes=(B.RSQRT, B.DEQUANTIZE, B.MAXIMUM, B.MUL, B.QUANTIZE), bits=(8, 16),
          pattern="DQ -> Sqrt -> Reciprocal -> Q", absorbs=("Reciprocal",),
          tflite="RSQRT, or DEQUANTIZE -> MAXIMUM -> RSQRT (-> MUL) -> QUANTIZE (an int8 float island)",
          constraints="the Sqrt output feeds only a Reciprocal; int16 zero points 0 (int16 RSQRT is a 513-entry "
                      "interpolated table); int8: a float32 island (XNNPACK takes it) when no input code's value is "
                      "within 2^-19 (relative) of a rounding boundary (checked on all 256 codes), or with a float32 "
                      "nudge 1 +- j 2^-18 that clears the near-tie codes and keeps every other code, else int8 RSQRT")
def convert_rsqrt(ctx, node) -> None:
    cons = ctx.g.consumers.get(node.output[0], [])
    if len(cons) != 1 or cons[0].op_type != "Reciprocal":
        raise ctx.fail(node, "a Sqrt is only converted as Sqrt -> Reciprocal (RSQRT); its output feeds "
                             + (", ".join(c.op_type for c in cons) or "nothing"))
    recip = cons[0]
    ctx.claim(recip)
    x, out = unary_io(ctx, node, (8, 16), out_node=recip)
    t = ctx.activation(x, node)
    y = ctx.new_output(out)
    plan = x.bits == 8 and island_plan(x.scalar_scale, x.scalar_zp, float(out.q.scale.reshape(-1)[0]),
                                       int(out.q.zero_point.reshape(-1)[0]))
    if not plan:
        ctx.b.op(B.RSQRT, [t], [y])
        return
    nudge = plan[1]
    f = island_input(ctx, t, out.name)
    floor = ctx.b.const(out.name + ISLAND_TENSORS[1], np.full((1,) * len(f.shape), RSQRT_FLOOR, dtype=np.float32))
    m = float_tensor(ctx, f, out.name, ISLAND_TENSORS[2])
    ctx.b.op(B.MAXIMUM, [f, floor], [m])
    r = float_tensor(ctx, f, out.name, ISLAND_TENSORS[3])
    ctx.b.op(B.RSQRT, [m], [r])
    r = nudged(ctx, r, out.name, nudge)
    ctx.b.op(B.QUANTIZE, [r], [y])
