"""A requantization DQ -> Q (new scale / zero point, or int8 <-> int16) -> TFLite QUANTIZE."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.registry import register


@register("QuantizeLinear", writes=(B.QUANTIZE,), bits=(8, 16), pattern="DQ -> Q",
          no_twin="a requantization between integer tensors: a float graph has none",
          constraints="per-tensor; int16 zero points 0; identical parameters are an identity (no operator)")
def convert_requantize(ctx, node) -> None:
    ctx.claim(node)
    src = ctx.g.dq_source(node.input[0])
    _, name, q_in = src
    if ctx.g.const(name) is not None:
        raise ctx.fail(node, "requantizes a constant (fold it before export)")
    q_out = ctx.g.qparams(node)
    if not (q_in.per_tensor and q_out.per_tensor):
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    for q, what in ((q_in, "input"), (q_out, "output")):
        if q.bits not in (8, 16):
            raise ctx.fail(node, f"{what} is {q.dtype} (int8/int16 supported)")
        if q.bits == 16 and int(q.zero_point.reshape(-1)[0]) != 0:
            raise ctx.fail(node, f"int16 {what} with zero point {int(q.zero_point.reshape(-1)[0])} (TFLite needs 0)")
    if name not in ctx.tensors:
        raise ctx.fail(node, f"input {name!r} has not been converted yet")
    x = ctx.tensors[name]
    if q_in.same(q_out):
        ctx.define(node.output[0], x)
        return
    y = quantize(ctx.b, x, q_out.dtype, Quant.make(q_out.scale, q_out.zero_point), node.output[0])
    ctx.define(node.output[0], y)
