"""ONNX Sub, float32 -> TFLite SUB (broadcasting)."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import binary
from fqss_edge.export.tflite.registry import register_float


@register_float("Sub", writes=(B.SUB, B.RESHAPE, B.TRANSPOSE),
                tflite="SUB (+RESHAPE / TRANSPOSE of a lower-rank operand)",
                constraints="numpy broadcasting between activations of any shapes and ranks, or constants")
def convert_sub(ctx, node) -> None:
    binary(ctx, node, B.SUB, schema.SubOptionsT())
