"""Shared checks of the one-input element-wise converters (RELU, LEAKY_RELU, LOGISTIC, RSQRT)."""

from __future__ import annotations

import onnx

from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.context import ConvertContext, QIn, QOut


def unary_io(ctx: ConvertContext, node: onnx.NodeProto, bits: tuple[int, ...], out_node: onnx.NodeProto | None = None
             ) -> tuple[QIn, QOut]:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(out_node if out_node is not None else node)
    if x.bits != out.bits:
        raise ctx.fail(node, f"int{x.bits} input but int{out.bits} output (TFLite needs one type; requantize first)")
    if x.bits not in bits:
        raise ctx.fail(node, f"int{x.bits} is not supported here (supported: {', '.join(f'int{b}' for b in bits)})")
    if not x.q.per_tensor:
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    if x.bits == 16 and x.scalar_zp != 0:
        raise ctx.fail(node, "int16 input with a non-zero zero point (TFLite 16x8 needs 0)")
    return x, out


def fixed_output(out: QOut, scale: float, zero_point: int) -> Quant | None:
    """The quantization (``scale``, ``zero_point``) a TFLite kernel with a fixed output range writes, when ``out``
    is quantized otherwise (a QUANTIZE to ``out`` must follow); None when ``out`` is that quantization."""
    if float(out.q.scale.reshape(-1)[0]) == scale and int(out.q.zero_point.reshape(-1)[0]) == zero_point:
        return None
    return Quant.make(scale, zero_point)
