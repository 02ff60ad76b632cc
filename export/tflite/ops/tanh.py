"""ONNX Tanh (DQ -> Tanh -> Q) -> TFLite TANH (int8: a 256-entry table; output scale 1/128, zero point 0)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Tanh", writes=(B.TANH,), bits=(8,),
          constraints="output quantization scale 1/128, zero point 0 (TFLite's int8 TANH specification)")
def convert_tanh(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    s, z = float(out.q.scale.reshape(-1)[0]), int(out.q.zero_point.reshape(-1)[0])
    if s != 1.0 / 128 or z != 0:
        raise ctx.fail(node, f"Tanh output quantized with scale {s!r}, zero point {z}; TFLite's int8 TANH is "
                             "specified with scale 1/128 and zero point 0")
    y = ctx.new_output(out)
    ctx.b.op(B.TANH, [ctx.activation(x, node)], [y])
