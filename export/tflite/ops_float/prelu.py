"""ONNX PRelu, float32 -> TFLite LEAKY_RELU (one slope) or PRELU (a constant slope per channel)."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import to_tflite_array
from fqss_edge.export.tflite.ops._slope import prelu_slope, single_slope
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float


@register_float("PRelu", writes=(B.LEAKY_RELU, B.PRELU), tflite="LEAKY_RELU (one slope) / PRELU (a slope per channel)",
                constraints="constant slope broadcast against the input")
def convert_prelu(ctx, node) -> None:
    x = ctx.input(node, 0)
    slope = prelu_slope(ctx, node, x.shape)
    alpha = single_slope(slope)
    if alpha is not None:
        opt = schema.LeakyReluOptionsT()
        opt.alpha = float(np.float32(alpha))
        unary(ctx, node, B.LEAKY_RELU, opt)
        return
    if x.const is not None:
        raise ctx.fail(node, "the input is a constant (fold it before export)")
    a = ctx.b.const(f"{node.output[0]}/alpha", to_tflite_array(slope))
    ctx.b.op(B.PRELU, [ctx.activation(x, node), a], [ctx.new_output(ctx.output(node))])
