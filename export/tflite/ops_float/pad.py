"""ONNX Pad (constant 0), float32 -> TFLite PAD (the pads translated through the std layout)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.pad import tflite_paddings
from fqss_edge.export.tflite.registry import register_float


@register_float("Pad", writes=(B.PAD,), constraints="constant pads >= 0, value 0")
def convert_pad(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "pads a constant (fold it before export)")
    paddings = tflite_paddings(ctx, node, len(x.shape))
    y = ctx.new_output(ctx.output(node))
    ctx.b.op(B.PAD, [ctx.activation(x, node), ctx.b.const(f"{y.name}/paddings", paddings)], [y])
