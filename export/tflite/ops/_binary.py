"""Shared body of the element-wise ADD / SUB / MUL converters (broadcasting between activations of any shapes and
ranks, constant operands)."""

from __future__ import annotations

import onnx
from fqss_edge.export.tflite.context import ConvertContext, QIn
from fqss_edge.export.tflite.emit import broadcast_rank


def operand(ctx: ConvertContext, node: onnx.NodeProto, x: QIn, out_rank: int, bits: int):
    if x.bits != bits:
        raise ctx.fail(node, f"operand {x.name!r} is int{x.bits}, the output int{bits}: TFLite needs one type")
    if not x.q.per_tensor:
        raise ctx.fail(node, f"operand {x.name!r} is quantized per channel; TFLite element-wise ops need per-tensor "
                             "scales (write gamma/beta-like constants per tensor)")
    if bits == 16 and x.scalar_zp != 0:
        raise ctx.fail(node, f"int16 operand {x.name!r} has zero point {x.scalar_zp} (TFLite 16x8 needs 0)")
    if x.const is not None:
        return ctx.const_input(x, shape=(1,) * out_rank)
    if len(x.shape) < out_rank:  # numpy broadcasting: leading unit axes
        return broadcast_rank(ctx.b, ctx.activation(x, node), x.shape, x.dynamic, out_rank, f"{x.name}/{node.name}")
    return ctx.activation(x, node)


def convert_binary(ctx: ConvertContext, node: onnx.NodeProto, code: int, options: object) -> None:
    a, b = ctx.qinput(node, 0), ctx.qinput(node, 1)
    out = ctx.qoutput(node)
    if out.bits not in (8, 16):
        raise ctx.fail(node, f"int{out.bits} output")
    if a.const is not None and b.const is not None:
        raise ctx.fail(node, "both operands are constants (fold them before export)")
    ta = operand(ctx, node, a, len(out.shape), out.bits)
    tb = operand(ctx, node, b, len(out.shape), out.bits)
    y = ctx.new_output(out)
    ctx.b.op(code, [ta, tb], [y], options)
