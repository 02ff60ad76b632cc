"""ONNX Relu, float32 -> a fused RELU on the convolution in front (as in the integer path), else TFLite RELU."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float

FUSABLE = (B.CONV_2D, B.DEPTHWISE_CONV_2D)


@register_float("Relu", writes=(B.RELU,), tflite="fused RELU on the conv in front, else RELU",
                constraints="fused when the Relu is the only reader of a CONV_2D / DEPTHWISE_CONV_2D output")
def convert_relu(ctx, node) -> None:
    x = ctx.input(node, 0)
    sole = ctx.g.consumers.get(x.name, []) == [node] and x.name not in {o.name for o in ctx.g.outputs}
    t = ctx.tensors.get(x.name)
    op = ctx.b.producer.get(t.index) if t is not None else None
    if sole and op is not None and ctx.b.opcode(op) in FUSABLE \
            and op.builtinOptions.fusedActivationFunction == schema.ActivationFunctionType.NONE:
        op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
        ctx.define(node.output[0], t)
        return
    unary(ctx, node, B.RELU)
