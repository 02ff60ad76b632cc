"""QPReLU (single slope: ``LeakyRelu``), QReLU, QSigmoid and QTanh: ``DQ -> op -> Q``."""

from __future__ import annotations

import numpy as np
from torch import nn

from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QPReLU, QReLU, QSigmoid, QTanh


def _unary(b: GraphBuilder, m: nn.Module, name: str, x: TensorRef, op: str, **attrs: object) -> TensorRef:
    y = b.node(op, [b.dequantize(x, name)], f"{name}/{op}", **attrs)
    return b.quantize(y, m.out_quant, child(name, "out_quant"))


@register(QPReLU)
def emit_prelu(b: GraphBuilder, m: QPReLU, name: str, x: TensorRef) -> TensorRef:
    if m.weight.numel() != 1:
        raise ValueError(f"{name}: only single-slope PReLU is exported (as LeakyRelu)")
    return _unary(b, m, name, x, "LeakyRelu", alpha=float(np.float32(m.weight.detach().item())))


@register(QReLU)
def emit_relu(b: GraphBuilder, m: QReLU, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Relu")


@register(QSigmoid)
def emit_sigmoid(b: GraphBuilder, m: QSigmoid, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Sigmoid")


@register(QTanh)
def emit_tanh(b: GraphBuilder, m: QTanh, name: str, x: TensorRef) -> TensorRef:
    return _unary(b, m, name, x, "Tanh")
