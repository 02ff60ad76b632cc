"""ONNX Add (DQ, DQ -> Add -> Q) -> TFLite ADD."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._binary import MIXED, convert_binary
from fqss_edge.export.tflite.registry import register


@register("Add", writes=(B.ADD, B.RESHAPE, B.TRANSPOSE, B.QUANTIZE), bits=(8, 16),
          tflite="ADD (+RESHAPE / TRANSPOSE of a lower-rank operand)",
          constraints=("per-tensor operands of the output's type (int16: zero points 0); numpy broadcasting (any shapes and ranks); a constant "
                      "operand is a DQ'd integer initializer") + MIXED)
def convert_add(ctx, node) -> None:
    opt = schema.AddOptionsT()
    opt.potScaleInt16 = False  # general int16 rescaling (the power-of-two path needs POT scales)
    convert_binary(ctx, node, B.ADD, opt)
