"""ONNX Pad, float32 -> TFLite PAD (constant 0), PADV2 (another constant) or MIRROR_PAD (reflect), the pads
translated through the std layout."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.pad import pad_mode, pad_operator, tflite_paddings
from fqss_edge.export.tflite.registry import register_float


@register_float("Pad", writes=(B.PAD, B.PADV2, B.MIRROR_PAD), tflite="PAD / PADV2 / MIRROR_PAD",
                constraints="constant pads >= 0 on any axis; mode constant (any value) or reflect")
def convert_pad(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "pads a constant (fold it before export)")
    mode, value = pad_mode(ctx, node)
    paddings = tflite_paddings(ctx, node, len(x.shape), x.shape, mode == "reflect")
    y = ctx.new_output(ctx.output(node))
    code = ctx.b.const(f"{y.name}/value", np.array(value, dtype=np.float32)) if mode == "constant" and value else None
    op, extra, opt = pad_operator(ctx.b, mode, code)
    ctx.b.op(op, [ctx.activation(x, node), ctx.b.const(f"{y.name}/paddings", paddings), *extra], [y], opt)
