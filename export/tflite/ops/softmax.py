"""ONNX Softmax (DQ -> Softmax(axis=1) -> Q) of a rank-3 activation -> TFLite SOFTMAX (int8).

The softmax axis 1 of ``[N, C, T]`` is the last axis of its ``[N, 1, T, C]`` layout, the only axis TFLite's
SOFTMAX reduces over. The output quantization is TFLite's fixed one: scale 1/256, zero point -128.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Softmax", writes=(B.SOFTMAX,), bits=(8,),
          constraints="rank 3, axis 1 (the channel axis: last in TFLite's layout); output scale exactly 1/256, zero "
                      "point -128")
def convert_softmax(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    if len(x.shape) != 3 or int(ctx.g.attr(node, "axis", -1)) % 3 != 1:
        raise ctx.fail(node, f"Softmax over axis {ctx.g.attr(node, 'axis', -1)} of a rank-{len(x.shape)} tensor; "
                             "supported: axis 1 of a rank-3 tensor")
    s, z = float(out.q.scale.reshape(-1)[0]), int(out.q.zero_point.reshape(-1)[0])
    if s != 1.0 / 256 or z != -128:
        raise ctx.fail(node, f"Softmax output quantized with scale {s!r}, zero point {z}; TFLite SOFTMAX needs "
                             "scale 1/256 and zero point -128")
    opt = schema.SoftmaxOptionsT()
    opt.beta = 1.0
    y = ctx.new_output(out)
    ctx.b.op(B.SOFTMAX, [ctx.activation(x, node)], [y], opt)
