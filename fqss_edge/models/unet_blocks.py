"""Building blocks of the time-domain U-Nets (Wave-U-Net, the lightweight Wave-U-Net, ResUNet).

Every block is made of registered quantized layers and the views / transposes the tracer records, so the U-Nets
export without export code of their own:

* ``space_to_depth`` / ``depth_to_space``: ``[B, C, T] <-> [B, C * r, T / r]`` (channel ``c * r + j`` holds
  sample ``t * r + j``), written as view -> permute -> reshape (RESHAPE / TRANSPOSE in the .tflite, both delegated
  to XNNPACK; one-node cases ``depth_to_space_2`` / ``space_to_depth_2`` in ``op_cases_unet``);
* ``Decimate``: Wave-U-Net's ``x[..., ::2]`` as a reshape to ``[B, C, T / 2, 2]`` and a slice of the first of the
  two phases (a step-2 STRIDED_SLICE would not be delegated to XNNPACK);
* ``Upsample``: nearest-neighbour upsampling by 2 (each sample twice: CONCATENATION on a unit axis + RESHAPE),
  exact in every runtime. (Wave-U-Net's linear interpolation, ``(x[t] + x[t + 1]) / 2`` between the copies, was
  built as a fixed depthwise convolution and dropped: in integer arithmetic half of the midpoints are exact ties
  (the interpolation keeps the input's range, so its calibrated output scale equals the input's), which the
  simulation (half to even), onnxruntime (float32 products) and TFLite (half away from zero) round differently:
  13% of its codes 1 LSB off against onnxruntime, 5 LSB at the smoke model's output. The learned convolution
  after the upsampling sees the same neighbours and can learn the interpolation.);
* ``SeparableConv``: depthwise (optionally dilated) convolution -> pointwise convolution -> activation;
* ``act``: a single-slope PReLU (int8: QUANTIZE, MUL and ADD in the .tflite, ``QPReLU``; XNNPACK takes them; a
  per-channel PReLU it does not).

Convolutions have no bias: digital silence stays exact zeros in every runtime (``tests/models/test_architectures``).
"""

from __future__ import annotations

import torch
from torch import nn

from fqss_edge.quant.layers import QConcat, QConv1d, QConvTranspose1d, QPReLU, QSlice
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


def odd(v: int) -> int:
    """A config validator: kernels of same-length convolutions are odd."""
    if v % 2 == 0:
        raise ValueError("must be odd (same-length convolutions)")
    return v


def act(spec: QuantSpec) -> QPReLU:
    return QPReLU(init=0.2, spec=spec)


@torch.no_grad()
def init_convs(model: nn.Module, slope: float = 0.2, residual_gain: float = 0.1) -> None:
    """He (Kaiming) initialisation of every trainable convolution but the decoder (the output layer keeps PyTorch's
    smaller default: the FQSS high byte saturates at 1): PyTorch's default gain (about 0.58 per layer) shrinks the
    signal by ~1e-6 over a U-Net's 25-40 layers, leaving the activation quantizers nothing to calibrate on. The
    last convolution of each residual branch (``residual_branch_end = True``) starts at ``residual_gain`` times
    that, so a stack of residual blocks starts near the identity."""
    decoder = getattr(model, "decoder", None)
    for m in model.modules():
        if not isinstance(m, (QConv1d, QConvTranspose1d)) or m is decoder or not m.conv.weight.requires_grad:
            continue
        mode = "fan_out" if isinstance(m, QConvTranspose1d) else "fan_in"  # [in, out, k]: each output sees C_in
        nn.init.kaiming_normal_(m.conv.weight, a=slope, mode=mode, nonlinearity="leaky_relu")
        if getattr(m, "residual_branch_end", False):
            m.conv.weight.mul_(residual_gain)


def space_to_depth(x: QTensor, r: int) -> QTensor:
    """``[B, C, T] -> [B, C * r, T / r]``: channel ``c * r + j`` at time t is sample ``t * r + j`` of channel c."""
    if r == 1:
        return x
    b, c, t = x.value.shape
    folded = x.value.view(b, c, t // r, r).permute(0, 1, 3, 2)
    return x.with_value(folded.reshape(b, c * r, t // r))


def depth_to_space(x: QTensor, r: int) -> QTensor:
    """The inverse of ``space_to_depth``: ``[B, C * r, T] -> [B, C, T * r]``."""
    if r == 1:
        return x
    b, cr, t = x.value.shape
    unfolded = x.value.view(b, cr // r, r, t).permute(0, 1, 3, 2)
    return x.with_value(unfolded.reshape(b, cr // r, t * r))


class Decimate(nn.Module):
    """``x[..., ::2]`` (T even)."""

    def __init__(self):
        super().__init__()
        self.even = QSlice(3, 0, 1)

    def forward(self, x: QTensor) -> QTensor:
        b, c, t = x.value.shape
        even = self.even(x.with_value(x.value.view(b, c, t // 2, 2)))  # [B, C, T / 2, 1]
        return even.with_value(even.value.reshape(b, c, t // 2))


class Upsample(nn.Module):
    """Nearest-neighbour upsampling by 2 along time: each sample twice (an exact copy in every runtime)."""

    def __init__(self):
        super().__init__()
        self.twice = QConcat(3)

    def forward(self, x: QTensor) -> QTensor:
        b, c, t = x.value.shape
        col = x.with_value(x.value.view(b, c, t, 1))
        pairs = self.twice(col, col)  # [B, C, T, 2]
        return pairs.with_value(pairs.value.reshape(b, c, 2 * t))


class SeparableConv(nn.Module):
    """Depthwise conv (kernel k, dilation d, "same" pads) -> pointwise conv -> single-slope PReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, spec: QuantSpec, dilation: int = 1):
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.depthwise = QConv1d(c_in, c_in, kernel_size, padding=pad, dilation=dilation, groups=c_in, bias=False,
                                 spec=spec)
        self.pointwise = QConv1d(c_in, c_out, 1, bias=False, spec=spec)
        self.act = act(spec)

    def forward(self, x: QTensor) -> QTensor:
        return self.act(self.pointwise(self.depthwise(x)))


class ConvAct(nn.Module):
    """Conv1d ("same" pads for stride 1; ``padding`` given for strided ones) -> single-slope PReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, spec: QuantSpec, stride: int = 1,
                 padding: int | None = None):
        super().__init__()
        pad = (kernel_size - 1) // 2 if padding is None else padding
        self.conv = QConv1d(c_in, c_out, kernel_size, stride, pad, bias=False, spec=spec)
        self.act = act(spec)

    def forward(self, x: QTensor) -> QTensor:
        return self.act(self.conv(x))
