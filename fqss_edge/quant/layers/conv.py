"""Quantized Conv1d (incl. depthwise and dilated) and ConvTranspose1d.

int8 weights per output channel, int32 bias with scale ``s_in * s_w``, output requantized by the layer's
own activation quantizer: the arithmetic of a QLinearConv / TFLite CONV_2D.

The accumulator is exact outside training. Integer runtimes (onnxruntime's QLinearConv, TFLite, XNNPACK) sum
integer codes, and a float32 convolution of the dequantized values rounds each product and partial sum. That
rounding moves a few values in 10^5 across a rounding boundary of the output quantizer, and the layers after
carry the flip on. So in eval mode ``linear`` convolves the integer codes instead (direct summation, not
NNPACK's transforms): in float32 where every partial sum is an integer below 2^24 (then the sum is exact in
any order), in float64 otherwise, plus the int32 bias codes, times ``s_in * s_w`` in float64 (the product of
two float32 numbers is exact there; what is left is float64 rounding, 1e-16 relative). Training
keeps the float32 convolution, which is differentiable and twice as fast as float64; with gradients enabled in
eval mode the exact value goes forward and the gradient is the float convolution's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import bias_scale, export_bias, quantize_bias
from fqss_edge.quant.spec import QuantSpec

_F32_EXACT_INTEGERS = 2.0**24  # float32 holds every integer of magnitude up to 2^24


class _QConvBase(nn.Module):
    conv: nn.Conv1d | nn.ConvTranspose1d
    weight_axis: int

    def _init_quant(self, spec: QuantSpec, out_channels: int, out_quant: nn.Module | None,
                    weight_quant: nn.Module | None) -> None:
        """Quantizers given as arguments (e.g. a 4-bit weight quantizer, a fixed-scale output) or from ``spec``."""
        self.weight_quant = weight_quant if weight_quant is not None else spec.weight(out_channels,
                                                                                       axis=self.weight_axis)
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def init_quant_ranges(self) -> None:
        self.weight_quant.init_range(self.conv.weight)

    def quant_params(self, x: QTensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = self.weight_quant(self.conv.weight)
        b = self.conv.bias
        if b is not None and self.weight_quant.enabled and x.scale is not None:
            b = quantize_bias(b, x.scale, self.weight_quant.scale())
        return w, b

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def float_linear(self, x: QTensor) -> torch.Tensor:
        """The accumulator as a float32 convolution of the dequantized input, weights and bias."""
        w, b = self.quant_params(x)
        return self._conv(x.value, w, b)

    @torch.no_grad()
    def exact_linear(self, x: QTensor) -> torch.Tensor:
        """The integer accumulator of an int8 runtime times ``s_in * s_w`` (float64: exact up to its final rounding)."""
        assert x.scale is not None
        s_in = x.scale.to(torch.float32)
        w_codes, s_w = self.weight_quant.export(self.conv.weight)
        x_codes = torch.round(x.value / s_in)  # q - zero_point; zero padding is code zero_point, as in the runtimes
        # |every partial sum| <= max|x| * sum|w| over one output channel's taps (all of them, for a bound)
        other_dims = [d for d in range(w_codes.dim()) if d != self.weight_axis]
        bound = float(x_codes.abs().max()) * float(w_codes.abs().sum(dim=other_dims).max()) if x_codes.numel() else 0.0
        dtype = torch.float32 if bound <= _F32_EXACT_INTEGERS else torch.float64
        # direct summation only: NNPACK's FFT / Winograd transforms are not exact on integers
        with torch.backends.nnpack.flags(enabled=False):
            acc = self._conv(x_codes.to(dtype), w_codes.to(dtype), None)
        acc = torch.round(acc.to(torch.float64))  # an integer; rounding also absorbs any error below 1/2
        scale = s_in.to(torch.float64) * s_w.to(torch.float64)  # exact: the product of two float32 numbers
        y = acc * scale.view(1, -1, 1)
        if self.conv.bias is not None:
            # int32 codes added to the accumulator, as the runtimes do; at scale s_b where the bias scale is clamped
            # (a degenerate channel with s_in * s_w < 1e-10), as the float path and the exporter use it
            b_codes, s_b = export_bias(self.conv.bias.detach(), float(s_in), s_w)
            b_scale = torch.where(s_b == bias_scale(s_in, s_w), scale, s_b.to(torch.float64))
            y = y + (b_codes.to(torch.float64) * b_scale).view(1, -1, 1)
        return y

    def linear(self, x: QTensor) -> torch.Tensor:
        """The int32 accumulator (dequantized): exact outside training (float64), else the float convolution."""
        if self.training or x.scale is None or not self.weight_quant.enabled:
            return self.float_linear(x)
        exact = self.exact_linear(x)
        if not torch.is_grad_enabled():
            return exact
        y = self.float_linear(x)
        return exact + (y - y.detach())  # the exact value, the float convolution's gradient

    def requantized(self, x: QTensor, quantizer: nn.Module) -> QTensor:
        """``quantizer(linear(x))`` with values in the input's dtype (the exact accumulator is float64)."""
        y = quantizer(self.linear(x))
        return y if y.value.dtype == x.value.dtype else y.with_value(y.value.to(x.value.dtype))

    def forward(self, x: QTensor) -> QTensor:
        return self.requantized(x, self.out_quant)


class QConv1d(_QConvBase):
    weight_axis = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, spec: QuantSpec = QuantSpec(),
                 out_quant: nn.Module | None = None, weight_quant: nn.Module | None = None):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self._init_quant(spec, out_channels, out_quant, weight_quant)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        c = self.conv
        return F.conv1d(x, w, b, c.stride, c.padding, c.dilation, c.groups)


class QConvTranspose1d(_QConvBase):
    weight_axis = 1  # weight is [in, out/groups, k]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None,
                 weight_quant: nn.Module | None = None):
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_quant(spec, out_channels, out_quant, weight_quant)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        c = self.conv
        return F.conv_transpose1d(x, w, b, c.stride, c.padding, c.output_padding, c.groups)
