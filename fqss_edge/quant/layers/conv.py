"""Quantized Conv1d (incl. depthwise and dilated) and ConvTranspose1d.

int8 weights per output channel, int32 bias with scale ``s_in * s_w``, output requantized by the layer's
own activation quantizer: the arithmetic of a QLinearConv / TFLite CONV_2D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import quantize_bias
from fqss_edge.quant.spec import QuantSpec


class _QConvBase(nn.Module):
    conv: nn.Conv1d | nn.ConvTranspose1d
    weight_axis: int

    def _init_quant(self, spec: QuantSpec, out_channels: int, out_quant: nn.Module | None) -> None:
        self.weight_quant = spec.weight(out_channels, axis=self.weight_axis)
        self.out_quant = out_quant if out_quant is not None else spec.act()

    def init_quant_ranges(self) -> None:
        self.weight_quant.init_range(self.conv.weight)

    def quant_params(self, x: QTensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = self.weight_quant(self.conv.weight)
        b = self.conv.bias
        if b is not None and self.weight_quant.enabled and x.scale is not None:
            b = quantize_bias(b, x.scale, self.weight_quant.scale())
        return w, b

    def linear(self, x: QTensor) -> torch.Tensor:
        """The int32 accumulator (dequantized): convolution with quantized weights and bias."""
        raise NotImplementedError

    def forward(self, x: QTensor) -> QTensor:
        return self.out_quant(self.linear(x))


class QConv1d(_QConvBase):
    weight_axis = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, spec: QuantSpec = QuantSpec(),
                 out_quant: nn.Module | None = None):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self._init_quant(spec, out_channels, out_quant)

    def linear(self, x: QTensor) -> torch.Tensor:
        w, b = self.quant_params(x)
        c = self.conv
        return F.conv1d(x.value, w, b, c.stride, c.padding, c.dilation, c.groups)


class QConvTranspose1d(_QConvBase):
    weight_axis = 1  # weight is [in, out/groups, k]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, spec: QuantSpec = QuantSpec(), out_quant: nn.Module | None = None):
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_quant(spec, out_channels, out_quant)

    def linear(self, x: QTensor) -> torch.Tensor:
        w, b = self.quant_params(x)
        c = self.conv
        return F.conv_transpose1d(x.value, w, b, c.stride, c.padding)
