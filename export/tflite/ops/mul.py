"""ONNX Mul (DQ, DQ -> Mul -> Q) -> TFLite MUL."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._binary import MIXED, convert_binary
from fqss_edge.export.tflite.registry import register


@register("Mul", writes=(B.MUL, B.RESHAPE, B.TRANSPOSE, B.QUANTIZE), bits=(8, 16),
          tflite="MUL (+RESHAPE / TRANSPOSE of a lower-rank operand)",
          constraints=("per-tensor operands of the output's type (int16: zero points 0); numpy broadcasting, e.g. "
                      "[1,1,N,F] x [1,S,N,F] or a [1,C,1] constant") + MIXED)
def convert_mul(ctx, node) -> None:
    convert_binary(ctx, node, B.MUL, schema.MulOptionsT())
