"""ONNX Relu (DQ -> Relu -> Q) -> TFLite RELU (rescales when input and output scales differ)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import version
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Relu", tflite="RELU", bits=(8, 16), constraints="per-tensor; int16 zero points 0")
def convert_relu(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8, 16))
    y = ctx.new_output(out)
    ctx.b.op(B.RELU, [ctx.activation(x, node)], [y], version=version(B.RELU, y.dtype))
