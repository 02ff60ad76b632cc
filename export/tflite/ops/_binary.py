"""Shared body of the element-wise ADD / SUB / MUL converters (broadcasting between activations of any shapes and
ranks, constant operands), and the int8 / int16 mixes of a mixed-precision plan (computed in int16)."""

from __future__ import annotations

import numpy as np
import onnx
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.context import WIDEN, ConvertContext, QIn
from fqss_edge.export.tflite.layout import to_tflite_array
from fqss_edge.export.tflite.emit import broadcast_rank


MIXED = ("; int8 and int16 tensors mixed (a mixed-precision plan): in int16, int8 activations widened (QUANTIZE "
         "to s/128, exact), an int8 output computed at s/128 then QUANTIZE")


def operand(ctx: ConvertContext, node: onnx.NodeProto, x: QIn, out_rank: int, bits: int, wide: bool = False):
    """``x`` as an operand of ``bits``; ``wide``: an int8 activation or constant among int16 tensors is widened
    to int16 (exactly)."""
    widen = wide and x.bits == 8
    if x.bits != bits and not widen:
        raise ctx.fail(node, f"operand {x.name!r} is int{x.bits}, the output int{bits}: TFLite needs one type")
    if not x.q.per_tensor:
        raise ctx.fail(node, f"operand {x.name!r} is quantized per channel; TFLite element-wise ops need per-tensor "
                             "scales (write gamma/beta-like constants per tensor)")
    if x.bits == 16 and x.scalar_zp != 0:
        raise ctx.fail(node, f"int16 operand {x.name!r} has zero point {x.scalar_zp} (TFLite 16x8 needs 0)")
    if x.const is not None and widen:  # int8 codes as int16 at s / 128: (q - z) * 128, exact
        codes = ((x.const.astype(np.int32) - x.scalar_zp) * WIDEN).astype(np.int16)
        q = Quant.make(np.float32(x.scalar_scale) / np.float32(WIDEN), 0)
        a = codes.reshape((1,) * (out_rank - codes.ndim) + codes.shape) if codes.ndim < out_rank else codes
        return ctx.b.const(f"{x.name}/int16", to_tflite_array(a), q)
    if x.const is not None:
        return ctx.const_input(x, shape=(1,) * out_rank)
    t = ctx.widened(x, node)[0] if widen else ctx.activation(x, node)
    if len(x.shape) < out_rank:  # numpy broadcasting: leading unit axes
        name = f"{x.name}{'/int16' if widen else ''}/{node.name}"
        return broadcast_rank(ctx.b, t, x.shape, x.dynamic, out_rank, name)
    return t


def convert_binary(ctx: ConvertContext, node: onnx.NodeProto, code: int, options: object,
                   fuse: tuple[str, ...] = ()) -> None:
    """``fuse``: ``("Relu",)`` where ``options`` has a fused activation (``Add -> Relu -> Q``: a fused RELU, the
    clamp at the output zero point)."""
    a, b = ctx.qinput(node, 0), ctx.qinput(node, 1)
    out = ctx.qoutput(node, fuse=fuse)
    if out.fused:
        options.fusedActivationFunction = schema.ActivationFunctionType.RELU
    if out.bits not in (8, 16):
        raise ctx.fail(node, f"int{out.bits} output")
    if a.const is not None and b.const is not None:
        raise ctx.fail(node, "both operands are constants (fold them before export)")
    # int8 and int16 tensors mixed (a mixed-precision plan): computed in int16, int8 activations widened
    wide = 16 in (a.bits, b.bits, out.bits) and not a.bits == b.bits == out.bits
    bits = 16 if wide else out.bits
    ta = operand(ctx, node, a, len(out.shape), bits, wide)
    tb = operand(ctx, node, b, len(out.shape), bits, wide)
    y, finish = ctx.wide_output(out) if wide else (ctx.new_output(out), lambda: None)
    ctx.b.op(code, [ta, tb], [y], options)
    finish()
