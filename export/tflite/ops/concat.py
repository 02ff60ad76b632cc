"""ONNX Concat of quantized tensors (DQ... -> Concat -> Q) -> TFLite CONCATENATION."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.registry import register


@register("Concat", writes=(B.CONCATENATION, B.QUANTIZE), tflite="CONCATENATION (+QUANTIZE)", bits=(8, 16),
          constraints="inputs of the output's type; an input quantized differently is requantized first (QUANTIZE)")
def convert_concat(ctx, node) -> None:
    out = ctx.qoutput(node)
    rank = len(out.shape)
    ins = []
    for i in range(len(node.input)):
        x = ctx.qinput(node, i)
        if x.bits != out.bits:
            raise ctx.fail(node, f"input {i} is int{x.bits}, the output int{out.bits}")
        t = ctx.const_input(x) if x.const is not None else ctx.activation(x, node)
        if len(x.shape) != rank:
            raise ctx.fail(node, f"input {i} has rank {len(x.shape)}, the output {rank}")
        if not x.q.same(out.q):
            t = quantize(ctx.b, t, out.q.dtype, out.quant(), f"{out.name}/in{i}")
        ins.append(t)
    opt = schema.ConcatenationOptionsT()
    opt.axis = tflite_axis(int(ctx.g.attr(node, "axis")), rank)
    y = ctx.new_output(out)
    ctx.b.op(B.CONCATENATION, ins, [y], opt)
