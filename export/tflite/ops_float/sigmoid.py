"""ONNX Sigmoid, float32 -> TFLite LOGISTIC."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float


@register_float("Sigmoid", writes=(B.LOGISTIC,))
def convert_sigmoid(ctx, node) -> None:
    unary(ctx, node, B.LOGISTIC)
