"""ONNX Softmax (DQ -> Softmax(axis=1) -> Q) of a rank-3 activation -> TFLite SOFTMAX (int8).

The softmax axis 1 of ``[N, C, T]`` is the last axis of its ``[N, 1, T, C]`` layout, the only axis TFLite's
SOFTMAX reduces over. TFLite's int8 SOFTMAX writes its fixed quantization, scale 1/256, zero point -128; an
output quantized otherwise (onnxruntime ``quantize_static`` writes 1/255) is requantized from it (QUANTIZE).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.layout import to_tflite_flags, to_tflite_shape
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


SOFTMAX_Q = Quant.make(1.0 / 256, -128)


@register("Softmax", writes=(B.SOFTMAX, B.QUANTIZE), tflite="SOFTMAX (+QUANTIZE)", bits=(8,),
          constraints="rank 3, axis 1 (the channel axis: last in TFLite's layout); an output not at scale 1/256, "
                      "zero point -128 (TFLite's) is requantized from it")
def convert_softmax(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    if len(x.shape) != 3 or int(ctx.g.attr(node, "axis", -1)) % 3 != 1:
        raise ctx.fail(node, f"Softmax over axis {ctx.g.attr(node, 'axis', -1)} of a rank-{len(x.shape)} tensor; "
                             "supported: axis 1 of a rank-3 tensor")
    opt = schema.SoftmaxOptionsT()
    opt.beta = 1.0
    if out.quant().same_as(SOFTMAX_Q):
        ctx.b.op(B.SOFTMAX, [ctx.activation(x, node)], [ctx.new_output(out)], opt)
        return
    y = ctx.b.tensor(f"{out.name}/softmax", to_tflite_shape(out.shape), np.int8, SOFTMAX_Q,
                     to_tflite_flags(out.dynamic))
    ctx.b.op(B.SOFTMAX, [ctx.activation(x, node)], [y], opt)
    ctx.define(out.name, quantize(ctx.b, y, np.int8, out.quant(), out.name))
