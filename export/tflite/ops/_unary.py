"""Shared checks of the one-input element-wise converters (RELU, LEAKY_RELU, LOGISTIC, RSQRT)."""

from __future__ import annotations

from collections.abc import Callable

import onnx

from fqss_edge.export.tflite.builder import Quant, TensorInfo
from fqss_edge.export.tflite.context import ConvertContext, QIn, QOut


def unary_io(ctx: ConvertContext, node: onnx.NodeProto, bits: tuple[int, ...], out_node: onnx.NodeProto | None = None,
             mixed: bool = False) -> tuple[QIn, QOut]:
    """The input and output of a one-input operator; ``mixed``: int8 in and int16 out or the reverse allowed (the
    caller computes in int16: ``wide_io``)."""
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(out_node if out_node is not None else node)
    if x.bits != out.bits and not (mixed and {x.bits, out.bits} == {8, 16}):
        raise ctx.fail(node, f"int{x.bits} input but int{out.bits} output (TFLite needs one type; requantize first)")
    if x.bits not in bits:
        raise ctx.fail(node, f"int{x.bits} is not supported here (supported: {', '.join(f'int{b}' for b in bits)})")
    if not x.q.per_tensor:
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    if x.bits == 16 and x.scalar_zp != 0:
        raise ctx.fail(node, "int16 input with a non-zero zero point (TFLite 16x8 needs 0)")
    return x, out


def wide_io(ctx: ConvertContext, node: onnx.NodeProto, x: QIn, out: QOut) -> tuple[TensorInfo, TensorInfo,
                                                                               Callable[[], None]]:
    """(input, output, finish) of a one-input operator: as they are when ``x`` and ``out`` have one type; else
    computed in int16 (``ConvertContext.widened`` / ``wide_output``; call ``finish`` after the operator)."""
    if x.bits == out.bits:
        return ctx.activation(x, node), ctx.new_output(out), lambda: None
    t, _ = ctx.widened(x, node)
    y, finish = ctx.wide_output(out)
    return t, y, finish


def fixed_output(out: QOut, scale: float, zero_point: int) -> Quant | None:
    """The quantization (``scale``, ``zero_point``) a TFLite kernel with a fixed output range writes, when ``out``
    is quantized otherwise (a QUANTIZE to ``out`` must follow); None when ``out`` is that quantization."""
    if float(out.q.scale.reshape(-1)[0]) == scale and int(out.q.zero_point.reshape(-1)[0]) == zero_point:
        return None
    return Quant.make(scale, zero_point)
