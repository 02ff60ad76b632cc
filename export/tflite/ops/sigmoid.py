"""ONNX Sigmoid (DQ -> Sigmoid -> Q) -> TFLite LOGISTIC (int8 output scale 1/256, zero point -128)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.ops._unary import fixed_output, unary_io
from fqss_edge.export.tflite.registry import register


@register("Sigmoid", writes=(B.LOGISTIC, B.QUANTIZE), tflite="LOGISTIC (+QUANTIZE)", bits=(8,),
          constraints="LOGISTIC writes TFLite's fixed scale 1/256, zero point -128; an output quantized otherwise "
                      "(onnxruntime's quantize_static: 1/255) is requantized after (QUANTIZE)")
def convert_sigmoid(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    fixed = fixed_output(out, 1.0 / 256, -128)
    if fixed is None:
        ctx.b.op(B.LOGISTIC, [ctx.activation(x, node)], [ctx.new_output(out)])
        return
    t = ctx.activation(x, node)
    y = ctx.b.like(f"{out.name}/logistic", t, quant=fixed)
    ctx.b.op(B.LOGISTIC, [t], [y])
    ctx.define(out.name, quantize(ctx.b, y, out.q.dtype, out.quant(), out.name))
