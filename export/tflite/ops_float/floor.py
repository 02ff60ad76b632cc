"""ONNX Floor, float32 -> TFLite FLOOR (the float form of the FQSS input splitter: the PCM bytes)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import FLOAT_FORM_OF_SPLITTER, unary
from fqss_edge.export.tflite.registry import register_float


@register_float("Floor", writes=(B.FLOOR,), no_twin=FLOAT_FORM_OF_SPLITTER)
def convert_floor(ctx, node) -> None:
    unary(ctx, node, B.FLOOR)
