"""ONNX Tanh (DQ -> Tanh -> Q) -> TFLite TANH (int8: the 256-entry table TanhPrepare fills for the reference and
generic kernels, for any output quantization; TFLite's quantization spec names 1/128, zero point 0, which its
own converter writes, and onnxruntime's quantize_static writes the calibrated range instead)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Tanh", writes=(B.TANH,), bits=(8,), constraints="int8, any output quantization (a lookup table)")
def convert_tanh(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    y = ctx.new_output(out)
    ctx.b.op(B.TANH, [ctx.activation(x, node)], [y])
