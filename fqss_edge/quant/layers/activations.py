"""Quantized activations: PReLU (one shared slope: exactly a LeakyReLU), ReLU, Sigmoid, Tanh."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import fake_quant
from fqss_edge.quant.spec import QuantSpec


class QPReLU(nn.Module):
    """PReLU with a single learned slope (as Conv-TasNet uses): a LeakyReLU. The slope is a float32 parameter.

    **int8 in and out** (revision 4): ``y = Q_out(relu(x) + Q_neg(alpha x))``. ``relu(x)`` is ``x`` requantized to
    its own scale with zero point -128 (exact: the negative codes saturate to 0); ``alpha`` is an int8 constant
    (code +-127) and ``Q_neg`` has the step ``|alpha| s_x`` (zero point 127 for ``alpha > 0``, so that ``alpha x``
    of a positive ``x`` saturates to 0: the min is the saturation; ``leaky_parts``). In the .tflite that is
    QUANTIZE, MUL and ADD (no LEAKY_RELU), in ONNX ``DQ -> Q``, ``Mul`` and ``Add``. The reason is agreement
    between the runtimes: TFLite's int8 LEAKY_RELU rounds its negative side twice (a multiplier ``s_in alpha /
    s_out`` below 1/2) and XNNPACK's once with 8-bit multipliers, so 9-15 % of their codes differ
    (``benchmarks/results/xnnpack_agreement_*.md``), which moved XNNPACK's SDR up to 0.1 dB from the builtin
    kernels' on the tiny music Conv-TasNet. Here the QUANTIZE and the MUL are exact in every runtime (their results
    land on their grids), and the ADD is the one rounding, of ``relu(x) + alpha x`` exactly: ``Q_out(leaky_relu(x))``
    up to the ADD kernels' own fixed point (``tests/export/tflite/test_prelu_int8.py``). XNNPACK takes all three.

    **int16, or int8 and int16 mixed**: LEAKY_RELU. Same width in and out: the forward gives TFLite's codes
    exactly (``tflite_leaky_relu``: its negative side rounded twice, looked up in the kernel's table, in training
    too, with the straight-through gradient of ``Q(leaky_relu(x))``); mixed widths (computed in int16 after a
    QUANTIZE) keep the single rounding. Before calibration values pass as ``leaky_relu(x)``.
    """

    overrides_quantizer = "out_quant"  # its output replaces that child's values (per-layer parity reads it)

    def __init__(self, init: float = 0.25, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def uses_int8_parts(self, in_bits: int | None) -> bool:
        """The int8 form (``relu(x) + Q_neg(alpha x)``): int8 in and int8 out."""
        return in_bits == 8 and getattr(self.out_quant, "bits", None) == 8 and getattr(self.out_quant, "enabled", True)

    def forward(self, x: QTensor) -> QTensor:
        v = x.value
        if x.is_quantized and self.uses_int8_parts(x.bits):
            parts = leaky_parts(float(x.scale), int(x.zero_point), float(self.weight.detach()))
            a = self.weight + (parts.alpha - self.weight).detach()  # the value the int8 constant holds
            s = torch.tensor(parts.scale, dtype=torch.float32, device=v.device)
            z = torch.tensor(float(parts.zero_point), device=v.device)
            return self.out_quant(torch.relu(v) + fake_quant(a * v, s, z, -128, 127))
        y = self.out_quant(torch.where(v >= 0, v, self.weight * v))
        if not (x.is_quantized and y.is_quantized and x.bits == y.bits):
            return y
        return y.with_value(_StraightThrough.apply(y.value, tflite_leaky_relu(x, y, self.weight)))


@dataclass(frozen=True)
class LeakyParts:
    """The int8 form's slope constant ``alpha = code * alpha_scale`` and ``Q_neg`` (scale, zero point)."""

    code: int
    alpha_scale: float  # float32 value
    scale: float  # Q_neg, float32 value
    zero_point: int

    @property
    def alpha(self) -> float:
        return float(np.float32(self.code) * np.float32(self.alpha_scale))


def leaky_parts(x_scale: float, x_zero_point: int, alpha: float) -> LeakyParts:
    """The slope constant and ``Q_neg`` of an int8 LeakyReLU of an input at (``x_scale``, ``x_zero_point``),
    computed in float32 from the values the checkpoint and the exported graph hold, once for the simulation and the
    ONNX emitter alike. ``Q_neg``'s step is ``|alpha| x_scale``: ``alpha x`` of an input code ``q`` is ``q - zp``
    steps from 0, exactly (up to float32's last bit), so the MUL rounds nothing in any runtime, and the
    ``zp + 128`` negative codes of ``x`` fit its int8 range."""
    f = np.float32
    a = f(alpha)
    if a == 0:
        return LeakyParts(0, 1.0, float(f(x_scale)), 127)
    alpha_scale = f(abs(a) / f(127.0))
    code = 127 if a > 0 else -127
    scale = f(abs(f(code) * alpha_scale) * f(x_scale))
    return LeakyParts(code, float(alpha_scale), float(scale), 127 if a > 0 else -128)


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
