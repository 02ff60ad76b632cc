"""ONNX Sub (DQ, DQ -> Sub -> Q) -> TFLite SUB."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._binary import MIXED, convert_binary
from fqss_edge.export.tflite.registry import register


@register("Sub", writes=(B.SUB, B.RESHAPE, B.TRANSPOSE, B.QUANTIZE), bits=(8, 16),
          tflite="SUB (+RESHAPE / TRANSPOSE of a lower-rank operand)",
          constraints=("per-tensor operands of the output's type (int16: zero points 0); numpy broadcasting (any shapes "
                      "and ranks)") + MIXED)
def convert_sub(ctx, node) -> None:
    opt = schema.SubOptionsT()
    opt.potScaleInt16 = False
    convert_binary(ctx, node, B.SUB, opt)
