"""ONNX Add (DQ, DQ -> Add -> Q) -> TFLite ADD.

An int8 ADD of an activation and a constant scalar that XNNPACK refuses (an input / output scale ratio outside
[2^-10, 2^8): the gLN's ``variance + eps`` when the variance's scale is large, a LayerNorm's per-row ``variance +
eps`` whose eps has a far smaller scale) is written as the float island DEQUANTIZE -> ADD -> QUANTIZE when that is
exact on all 256 input codes, or with a float32 nudge before QUANTIZE where a near-tie code needs one
(``_float_island.island_plan``), so that it does not split XNNPACK's partition. Exactness is a property of the
codes, not of the tensor's size: the island is written for a one-element gLN statistic and for a LayerNorm's row of
statistics alike (a few thousand elements: three or four cheap float32 operations inside the partition).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._binary import MIXED, convert_binary
from fqss_edge.export.tflite.ops._float_island import float_tensor, island_input, island_plan, nudged
from fqss_edge.export.tflite.registry import register

XNNPACK_ADD_RATIOS = (2.0 ** -10, 2.0 ** 8)  # input / output scales XNNPACK's int8 ADD takes: [lo, hi)


def constant_island(ctx, node):
    """(activation, constant value, nudge) of an int8 Add of a constant scalar that is written as a float island,
    or None."""
    a, b, out = ctx.qinput(node, 0), ctx.qinput(node, 1), ctx.qoutput(node, fuse=("Relu",))
    if out.fused or not a.bits == b.bits == out.bits == 8 or (a.const is None) == (b.const is None):
        return None
    x, c = (a, b) if b.const is not None else (b, a)
    if c.const.size != 1 or not x.q.per_tensor or tuple(x.shape) != tuple(out.shape):
        return None
    s_out = float(out.q.scale.reshape(-1)[0])
    lo, hi = XNNPACK_ADD_RATIOS
    if all(lo <= v.scalar_scale / s_out < hi for v in (x, c)):
        return None  # XNNPACK takes the int8 ADD
    value = np.float64(np.float32(np.float64(np.float32(c.scalar_scale)) * (int(c.const.reshape(-1)[0]) - c.scalar_zp)))
    plan = island_plan(lambda v: v + value, x.scalar_scale, x.scalar_zp, s_out, int(out.q.zero_point.reshape(-1)[0]))
    return None if plan is None else (x, np.float32(value), plan[1])


@register("Add", writes=(B.ADD, B.RESHAPE, B.TRANSPOSE, B.QUANTIZE, B.DEQUANTIZE, B.MUL), bits=(8, 16),
          tflite="ADD (+RESHAPE / TRANSPOSE of a lower-rank operand; Add -> Relu -> Q: a fused RELU)",
          constraints=("per-tensor operands of the output's type (int16: zero points 0); numpy broadcasting (any shapes and ranks); a constant "
                      "operand is a DQ'd integer initializer") + MIXED + "; an int8 activation plus a constant scalar "
                      "that XNNPACK refuses (scale ratio outside [2^-10, 2^8)): DEQUANTIZE -> float32 ADD (-> MUL "
                      "by a nudge) -> QUANTIZE when exact on all 256 codes")
def convert_add(ctx, node) -> None:
    island = constant_island(ctx, node)
    if island is None:
        opt = schema.AddOptionsT()
        opt.potScaleInt16 = False  # general int16 rescaling (the power-of-two path needs POT scales)
        convert_binary(ctx, node, B.ADD, opt, fuse=("Relu",))
        return
    x, value, nudge = island
    out = ctx.qoutput(node)
    f = island_input(ctx, ctx.activation(x, node), out.name)
    c = ctx.b.const(f"{out.name}/constant", np.full((1,) * len(f.shape), value, dtype=np.float32))
    p = float_tensor(ctx, f, out.name, "/plus")
    ctx.b.op(B.ADD, [f, c], [p], schema.AddOptionsT())
    ctx.b.op(B.QUANTIZE, [nudged(ctx, p, out.name, nudge)], [ctx.new_output(out)])
