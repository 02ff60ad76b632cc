"""ONNX Softmax (axis 1 of a rank-3 tensor), float32 -> TFLite SOFTMAX over the last axis of its layout."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float


@register_float("Softmax", writes=(B.SOFTMAX,), constraints="rank 3, axis 1")
def convert_softmax(ctx, node) -> None:
    if len(ctx.input(node, 0).shape) != 3 or int(ctx.g.attr(node, "axis", -1)) % 3 != 1:
        raise ctx.fail(node, "only a Softmax over axis 1 of a rank-3 tensor is supported")
    opt = schema.SoftmaxOptionsT()
    opt.beta = 1.0
    unary(ctx, node, B.SOFTMAX, opt)
