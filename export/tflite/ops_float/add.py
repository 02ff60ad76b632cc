"""ONNX Add, float32 -> TFLite ADD (broadcasting; a constant operand such as gLN's beta or eps)."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import binary
from fqss_edge.export.tflite.registry import register_float


@register_float("Add", writes=(B.ADD, B.RESHAPE, B.TRANSPOSE),
                tflite="ADD (+RESHAPE / TRANSPOSE of a lower-rank operand)",
                constraints="numpy broadcasting between activations of any shapes and ranks, or constants")
def convert_add(ctx, node) -> None:
    binary(ctx, node, B.ADD, schema.AddOptionsT())
