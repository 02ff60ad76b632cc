"""ONNX Concat of quantized tensors (DQ... -> Concat -> Q) -> TFLite CONCATENATION.

CONCATENATION needs its inputs in the output's quantization, so an input quantized otherwise is requantized first.
An int8 activation with another scale is requantized as an ADD of a zero constant, not a QUANTIZE: TFLite's
reference QUANTIZE (int8 -> int8) rounds twice and its optimised kernel once, XNNPACK's with an 8-bit multiplier,
so on the lightweight Wave-U-Net's decoder 8-37 % of the requantized codes differed between the reference and the
builtin kernels and the reference kernels ended 0.08-0.14 dB museval SDR from the others; every kernel set
measured computes the ADD alike (``benchmarks/results/parity_waveunet_lite_tiny_fqss.md``). Another zero point
alone, int16 and constants keep QUANTIZE.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.registry import register


@register("Concat", writes=(B.CONCATENATION, B.QUANTIZE, B.ADD), tflite="CONCATENATION (+QUANTIZE / ADD)",
          bits=(8, 16), constraints="inputs of the output's type; an input quantized differently is requantized first "
                                    "(an int8 activation with another scale: ADD of a zero constant; else QUANTIZE)")
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
            t = _requantized(ctx, t, x, out, f"{out.name}/in{i}")
        ins.append(t)
    opt = schema.ConcatenationOptionsT()
    opt.axis = tflite_axis(int(ctx.g.attr(node, "axis")), rank)
    y = ctx.new_output(out)
    ctx.b.op(B.CONCATENATION, ins, [y], opt)


def _requantized(ctx, t, x, out, name: str):
    """``t`` (the input ``x``) in ``out``'s quantization: ADD of a zero constant for an int8 activation with another
    scale (see the module docstring), else QUANTIZE."""
    other_scale = x.q.per_tensor and float(x.q.scale.reshape(-1)[0]) != float(out.q.scale.reshape(-1)[0])
    if x.const is None and other_scale and np.dtype(out.q.dtype) == np.int8 and t.dtype == np.int8:
        zero = ctx.b.const(f"{name}/zero", np.full((1,) * len(t.shape), x.scalar_zp, np.int8), x.quant())
        y = ctx.b.tensor(name, t.shape, np.int8, out.quant(), t.dynamic)
        ctx.b.op(B.ADD, [t, zero], [y], schema.AddOptionsT())
        return y
    return quantize(ctx.b, t, out.q.dtype, out.quant(), name)
