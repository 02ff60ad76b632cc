"""ONNX Tanh, float32 -> TFLite TANH."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float


@register_float("Tanh", writes=(B.TANH,))
def convert_tanh(ctx, node) -> None:
    unary(ctx, node, B.TANH)
