"""ONNX Sqrt -> Reciprocal (DQ -> Sqrt -> Reciprocal -> Q, the Sqrt output not quantized) -> TFLite RSQRT.

int8 in and out: XNNPACK has no int8 RSQRT, and each one the gLNs leave to TFLite splits the delegated graph (49
partitions on the full Conv-TasNet). When it is exact, the int8 RSQRT is written as a float island of the
simulation's own formula (``QGlobalLayerNorm``: ``Q(rsqrt(max(DQ(x), 1e-12)))``), DEQUANTIZE -> MAXIMUM ->
RSQRT -> QUANTIZE, which XNNPACK takes. Exact means: on each of the 256 input codes, the float value that the
output code rounds is farther than ``TIE_MARGIN`` (relative) from a rounding boundary, so that no float32
rounding of any runtime (1/sqrt or an estimate refined by Newton steps, a division or a product by 1/scale, ties
to even or away from zero) can pick another code. ``island_codes`` checks it at export; where it fails the
int8 RSQRT is written (TFLite's fixed-point GetInvSqrtQuantizedMultiplierExp), as before.
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import dequantize
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register

RSQRT_FLOOR = np.float32(1e-12)  # the simulation's clamp before rsqrt (fqss_edge/quant/layers/norm.py)
# 2^-19 relative, 16 to 32 float32 ulps: measured here, LiteRT's float32 RSQRT is within 1.5 ulps of 1/sqrt with
# XNNPACK and with the reference kernel (2^16 values over 2^-40 .. 2^20), and a QUANTIZE's division or product by
# 1/scale adds about 1
TIE_MARGIN = 2.0 ** -19
ISLAND_TENSORS = ("/float", "/floor", "/clamped", "/rsqrt")  # name suffixes of the island's float32 tensors


def island_codes(s_in: float, z_in: int, s_out: float, z_out: int) -> np.ndarray | None:
    """The int8 output code of ``Q(rsqrt(max(DQ(c), 1e-12)))`` for every int8 input code c (index c + 128), or
    None when some code's value lies within ``TIE_MARGIN`` of a rounding boundary."""
    codes = np.arange(-128, 128, dtype=np.float64)
    v = (np.float64(np.float32(s_in)) * (codes - z_in)).astype(np.float32)  # DEQUANTIZE: one float32 rounding
    y = 1.0 / np.sqrt(np.maximum(v, RSQRT_FLOOR).astype(np.float64)) / np.float64(np.float32(s_out))
    saturated = y + z_out > 127.5 + TIE_MARGIN * y
    off_tie = np.abs(y - np.floor(y) - 0.5) > TIE_MARGIN * np.maximum(y, 1.0)
    if not np.all(saturated | off_tie):
        return None
    return np.clip(np.floor(y + 0.5) + z_out, -128, 127).astype(np.int8)


@register("Sqrt", writes=(B.RSQRT, B.DEQUANTIZE, B.MAXIMUM, B.QUANTIZE), bits=(8, 16),
          pattern="DQ -> Sqrt -> Reciprocal -> Q", absorbs=("Reciprocal",),
          tflite="RSQRT, or DEQUANTIZE -> MAXIMUM -> RSQRT -> QUANTIZE (an int8 float island)",
          constraints="the Sqrt output feeds only a Reciprocal; int16 zero points 0 (int16 RSQRT is a 513-entry "
                      "interpolated table); int8: a float32 island (XNNPACK takes it) when no input code's value is "
                      "within 2^-19 (relative) of a rounding boundary (checked on all 256 codes), else int8 RSQRT")
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
    exact = x.bits == 8 and island_codes(x.scalar_scale, x.scalar_zp, float(out.q.scale.reshape(-1)[0]),
                                         int(out.q.zero_point.reshape(-1)[0])) is not None
    if not exact:
        ctx.b.op(B.RSQRT, [t], [y])
        return
    f = dequantize(ctx.b, t, out.name + ISLAND_TENSORS[0])
    floor = ctx.b.const(out.name + ISLAND_TENSORS[1], np.full((1,) * len(f.shape), RSQRT_FLOOR, dtype=np.float32))
    m = ctx.b.tensor(out.name + ISLAND_TENSORS[2], f.shape, np.float32, None, f.dynamic)
    ctx.b.op(B.MAXIMUM, [f, floor], [m])
    r = ctx.b.tensor(out.name + ISLAND_TENSORS[3], f.shape, np.float32, None, f.dynamic)
    ctx.b.op(B.RSQRT, [m], [r])
    ctx.b.op(B.QUANTIZE, [r], [y])
