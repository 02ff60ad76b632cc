"""Quantized activations: PReLU (one shared slope: exactly a LeakyReLU), ReLU, Sigmoid, Tanh."""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


class QPReLU(nn.Module):
    """PReLU with a single learned slope (as Conv-TasNet uses). The slope stays float32: int8 runtimes fold it
    into a fixed-point multiplier (TFLite LEAKY_RELU, onnxruntime LeakyRelu), and XNNPACK delegates it."""

    def __init__(self, init: float = 0.25, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def forward(self, x: QTensor) -> QTensor:
        v = x.value
        return self.out_quant(torch.where(v >= 0, v, self.weight * v))


class QReLU(nn.Module):
    def __init__(self, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def forward(self, x: QTensor) -> QTensor:
        return self.out_quant(torch.relu(x.value))


class QSigmoid(nn.Module):
    """Output range fixed by the runtimes: int8 scale 1/256, zero point -128 (TFLite LOGISTIC)."""

    def __init__(self, spec: QuantSpec = QuantSpec()):
        super().__init__()
        if spec.act_bits == 16:
            self.out_quant = spec.fixed(1.0 / 32768.0, 0, bits=16)
        else:
            self.out_quant = spec.fixed(1.0 / 256.0, -128, bits=8)

    def forward(self, x: QTensor) -> QTensor:
        return self.out_quant(torch.sigmoid(x.value))


class QTanh(nn.Module):
    """Output range fixed as in TFLite's int8 TANH specification: scale 1/128, zero point 0."""

    def __init__(self, spec: QuantSpec = QuantSpec()):
        super().__init__()
        self.out_quant = spec.fixed(1.0 / 128.0, 0, bits=8)

    def forward(self, x: QTensor) -> QTensor:
        return self.out_quant(torch.tanh(x.value))


def make_activation(name: str, spec: QuantSpec) -> nn.Module:
    if name == "relu":
        return QReLU(spec)
    if name == "sigmoid":
        return QSigmoid(spec)
    if name == "prelu":
        return QPReLU(spec=spec)
    raise ValueError(f"unknown activation {name!r}")
