"""ONNX Concat, float32 -> TFLite CONCATENATION."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.registry import register_float


@register_float("Concat", writes=(B.CONCATENATION,), constraints="inputs of the output's rank (constants allowed)")
def convert_concat(ctx, node) -> None:
    out = ctx.output(node)
    rank = len(out.shape)
    ins = []
    for i in range(len(node.input)):
        x = ctx.input(node, i)
        if len(x.shape) != rank:
            raise ctx.fail(node, f"input {i} has rank {len(x.shape)}, the output {rank}")
        ins.append(ctx.activation(x, node))
    opt = schema.ConcatenationOptionsT()
    opt.axis = tflite_axis(int(ctx.g.attr(node, "axis")), rank)
    y = ctx.new_output(out)
    ctx.b.op(B.CONCATENATION, ins, [y], opt)
