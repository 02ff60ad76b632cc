"""ONNX Mul, float32 -> TFLite MUL (broadcasting, e.g. [1,1,N,F] x [1,S,N,F] or a [1,C,1] constant)."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import binary
from fqss_edge.export.tflite.registry import register_float


@register_float("Mul", writes=(B.MUL, B.RESHAPE, B.TRANSPOSE),
                tflite="MUL (+RESHAPE / TRANSPOSE of a lower-rank operand)",
                constraints="numpy broadcasting between activations of any shapes and ranks, or constants")
def convert_mul(ctx, node) -> None:
    binary(ctx, node, B.MUL, schema.MulOptionsT())
