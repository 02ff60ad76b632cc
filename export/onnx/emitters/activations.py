"""QPReLU (single slope; int8: ``relu(x) + Q_neg(alpha x)`` as ``DQ -> Q``, ``Mul`` and ``Add``, else
``LeakyRelu``), QReLU, QSigmoid and QTanh: ``DQ -> op -> Q``."""

from __future__ import annotations

import numpy as np
from torch import nn

from fqss_edge.export.onnx.expected import ExpectedConst, FromInput
from fqss_edge.export.onnx.graph import GraphBuilder, QParams, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QPReLU, QReLU, QSigmoid, QTanh
from fqss_edge.quant.layers.activations import leaky_parts


def _unary(b: GraphBuilder, m: nn.Module, name: str, x: TensorRef, op: str, **attrs: object) -> TensorRef:
    y = b.node(op, [b.dequantize(x, name)], f"{name}/{op}", **attrs)
    return b.quantize(y, m.out_quant, child(name, "out_quant"))


def _prelu_constants(m: QPReLU, name: str) -> dict[str, ExpectedConst]:
    """The int8 form's slope constant (``leaky_parts``; written when input and output are int8)."""
    parts = leaky_parts(1.0, 0, float(np.float32(m.weight.detach().item())))
    return {child(name, "alpha"): ExpectedConst(np.array([parts.code], np.int8), np.array(parts.alpha_scale,
                                                                                          np.float32))}


def _prelu_activations(m: QPReLU, name: str) -> dict[str, FromInput]:
    """The int8 form's ``relu(x)`` (x's scale, zero point -128) and ``Q_neg``, from the input's quantization."""
    alpha = float(np.float32(m.weight.detach().item()))

    def negative(scale: float, zero_point: int) -> QParams:
        parts = leaky_parts(scale, zero_point, alpha)
        return QParams(parts.scale, parts.zero_point, 8)

    return {child(name, "positive_side"): FromInput(lambda scale, _zp: QParams(scale, -128, 8)),
            child(name, "negative_side"): FromInput(negative, through="Mul")}


@register(QPReLU, constants=_prelu_constants, activations=_prelu_activations)
def emit_prelu(b: GraphBuilder, m: QPReLU, name: str, x: TensorRef) -> TensorRef:
    if m.weight.numel() != 1:
        raise ValueError(f"{name}: only single-slope PReLU is exported (as LeakyRelu)")
    alpha = float(np.float32(m.weight.detach().item()))
    if not (b.quantized and x.qparams is not None and m.uses_int8_parts(x.qparams.bits)):
        return _unary(b, m, name, x, "LeakyRelu", alpha=alpha)
    parts = leaky_parts(x.qparams.scale, x.qparams.zero_point, alpha)  # as QPReLU.forward computes them
    pos = b.quantize_with(b.dequantize(x, child(name, "positive_side")), QParams(x.qparams.scale, -128, 8),
                          child(name, "positive_side"))
    a = b.quantized_const(child(name, "alpha"), np.array([parts.code]), np.array(parts.alpha_scale), 8,
                          f"{name}/Mul")
    ax = b.node("Mul", [b.dequantize(x, f"{name}/Mul"), a], f"{name}/Mul")
    neg = b.quantize_with(ax, QParams(parts.scale, parts.zero_point, 8), child(name, "negative_side"))
    y = b.node("Add", [b.dequantize(pos, f"{name}/Add"), b.dequantize(neg, f"{name}/Add")], f"{name}/Add")
    return b.quantize(y, m.out_quant, child(name, "out_quant"))


@register(QReLU)
def emit_relu(b: GraphBuilder, m: QReLU, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Relu")


@register(QSigmoid)
def emit_sigmoid(b: GraphBuilder, m: QSigmoid, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Sigmoid")


@register(QTanh)
def emit_tanh(b: GraphBuilder, m: QTanh, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Tanh")
