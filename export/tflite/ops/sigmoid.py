"""ONNX Sigmoid (DQ -> Sigmoid -> Q) -> TFLite LOGISTIC (int8 output scale 1/256, zero point -128)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Sigmoid", writes=(B.LOGISTIC,), bits=(8,),
          constraints="output quantization must be exactly scale 1/256, zero point -128 (TFLite's fixed range)")
def convert_sigmoid(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    s, z = float(out.q.scale.reshape(-1)[0]), int(out.q.zero_point.reshape(-1)[0])
    if s != 1.0 / 256 or z != -128:
        raise ctx.fail(node, f"Sigmoid output quantized with scale {s!r}, zero point {z}; TFLite LOGISTIC needs "
                             "scale 1/256 and zero point -128 (use a FixedQuantizer(1/256, -128))")
    y = ctx.new_output(out)
    ctx.b.op(B.LOGISTIC, [ctx.activation(x, node)], [y])
