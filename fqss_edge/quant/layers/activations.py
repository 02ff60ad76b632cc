"""Quantized activations: PReLU (one shared slope: exactly a LeakyReLU), ReLU, Sigmoid, Tanh."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


class QPReLU(nn.Module):
    """PReLU with a single learned slope (as Conv-TasNet uses), exported as LeakyRelu (TFLite LEAKY_RELU, which
    XNNPACK delegates). The slope stays float32: the runtimes fold it into a fixed-point multiplier.

    Once input and output are quantized at one bit width, the forward gives TFLite's LEAKY_RELU codes exactly
    (``tflite_leaky_relu``): the kernel requantizes the negative side with the multiplier ``s_in alpha / s_out``
    (below 1/2: a right shift) and its default build rounds twice there, so about 7 % of the int8 codes are one
    below the single rounding of ``Q(leaky_relu(x))``; on the real-speech tiny Conv-TasNet that kept LiteRT's
    kernels 0.05-0.07 dB SI-SDR from the simulation. The element-wise kernel has one output per input code, so
    the simulation looks it up in the kernel's table (2^bits entries, built from the same float32 scales and
    alpha as the .tflite stores), in training too: QAT trains on what ships. The gradient is the
    straight-through one of ``Q(leaky_relu(x))`` (the table moves values by one code at most). Before calibration,
    and with int8 in and int16 out or the reverse (computed in int16 after a QUANTIZE), the single rounding stays.
    """

    overrides_quantizer = "out_quant"  # its output replaces that child's values (per-layer parity reads it)

    def __init__(self, init: float = 0.25, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def forward(self, x: QTensor) -> QTensor:
        v = x.value
        y = self.out_quant(torch.where(v >= 0, v, self.weight * v))
        if not (x.is_quantized and y.is_quantized and x.bits == y.bits):
            return y
        return y.with_value(_StraightThrough.apply(y.value, tflite_leaky_relu(x, y, self.weight)))


def tflite_leaky_relu(x: QTensor, y: QTensor, alpha: torch.Tensor) -> torch.Tensor:
    """The values of TFLite's LEAKY_RELU of ``x`` into ``y``'s quantization (one bit width): its integer result
    for every input code (``quantize_leaky_relu``, shared with the integer reference kernel), looked up."""
    from fqss_edge.export.tflite.fixedpoint import quantize_leaky_relu  # numpy only: no cycle, no heavy import

    half = 2 ** (x.bits - 1)
    codes = quantize_leaky_relu(np.arange(-half, half), float(x.scale), int(x.zero_point), float(y.scale),
                                int(y.zero_point), float(alpha.detach()))
    table = torch.from_numpy(np.clip(codes, -half, half - 1)).to(device=y.value.device, dtype=y.value.dtype)
    with torch.no_grad():
        values = (table - y.zero_point) * y.scale  # as fake_quant computes (code - zp) * scale, in float32
        index = (torch.round(x.value / x.scale) + x.zero_point).long() + half
        return values[index]


class _StraightThrough(torch.autograd.Function):
    """Forward: ``exact``; backward: the gradient of ``y`` (both one tensor's shape)."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
        return exact.clone()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return g, None


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
