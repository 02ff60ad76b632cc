"""ONNX Slice (constant starts / ends / axes / steps), float32 -> TFLite STRIDED_SLICE."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.slice import strided_slice_params
from fqss_edge.export.tflite.registry import register_float


@register_float("Slice", writes=(B.STRIDED_SLICE,), constraints="constant starts, ends, axes, steps (any sign, any axis)")
def convert_slice(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "slices a constant (fold it before export)")
    begin, end, strides, opt = strided_slice_params(ctx, node, len(x.shape))
    y = ctx.new_output(ctx.output(node))
    consts = [ctx.b.const(f"{y.name}/{k}", v) for k, v in (("begin", begin), ("end", end), ("strides", strides))]
    ctx.b.op(B.STRIDED_SLICE, [ctx.activation(x, node), *consts], [y], opt)
