"""ONNX Relu (DQ -> Relu -> Q) -> a fused RELU on the convolution in front, or TFLite RELU.

XNNPACK delegates int8 RELU only as a convolution's fused activation. When the Relu's input is a
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED output read by nothing else, the RELU is fused into it (its clamp
at the conv output's zero point) and a QUANTIZE rescales to the Relu's output parameters (none if they are equal): the
same integers as CONV_2D -> RELU, since RELU = zo + MBQM(max(y, zc) - zc) clamped, which is QUANTIZE of the
fused-RELU output. Otherwise a plain RELU (TFLite kernel) is written.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.ops._unary import unary_io, wide_io
from fqss_edge.export.tflite.registry import register

FUSABLE = (B.CONV_2D, B.DEPTHWISE_CONV_2D, B.FULLY_CONNECTED)


def sole_reader(ctx, name: str, node) -> bool:
    readers = [c for dq in ctx.g.consumers.get(name, []) for c in ctx.g.consumers.get(dq.output[0], [])]
    return len(readers) == 1 and readers[0] is node and name not in {o.name for o in ctx.g.outputs}


@register("Relu", writes=(B.RELU, B.QUANTIZE), tflite="fused RELU on the conv in front (+QUANTIZE), else RELU",
          bits=(8, 16), constraints="per-tensor; int16 zero points 0; int8 in and int16 out or the reverse: in "
                                    "int16 (QUANTIZE of the int8 side)")
def convert_relu(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8, 16), mixed=True)
    t = ctx.activation(x, node)
    op = ctx.b.producer.get(t.index)
    if op is not None and ctx.b.opcode(op) in FUSABLE and sole_reader(ctx, x.name, node) \
            and op.builtinOptions.fusedActivationFunction == schema.ActivationFunctionType.NONE:
        op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
        if x.q.same(out.q):
            ctx.define(out.name, t)
        else:
            ctx.define(out.name, quantize(ctx.b, t, out.q.dtype, out.quant(), out.name))
        return
    t, y, finish = wide_io(ctx, node, x, out)  # int8 <-> int16 (a mixed-precision plan): in int16
    ctx.b.op(B.RELU, [t], [y])
    finish()
