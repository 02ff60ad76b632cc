"""ONNX Softmax over any axis, float32 -> TFLite SOFTMAX over the innermost axis (TRANSPOSE in and out unless the
axis is innermost in its layout, as the int8 path)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.softmax import emit_softmax, softmax_axis
from fqss_edge.export.tflite.registry import register_float


@register_float("Softmax", writes=(B.SOFTMAX, B.TRANSPOSE, B.RESHAPE),
                constraints="any axis (opset < 13: the last)")
def convert_softmax(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "the input is a constant (fold it before export)")
    rank = len(x.shape)
    out = ctx.output(node)
    y = emit_softmax(ctx, ctx.activation(x, node), rank, softmax_axis(ctx, node, rank), np.float32, None, out.name)
    ctx.define(out.name, y)
