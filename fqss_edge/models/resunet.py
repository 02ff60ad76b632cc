"""ResUNet: a time-domain U-Net of residual convolution blocks (channels x1.5 per stage, downsampling by 2).

* an input Conv1d (``kernel_size`` taps) to ``channels`` channels;
* ``n_stages`` encoder stages: a residual block (conv -> act -> conv, plus the input, -> act) whose output is the
  skip, then a stride-2 Conv1d (4 taps, pads 1: T -> T / 2) to ``round(1.5 * c)`` channels;
* a residual block at the bottom;
* ``n_stages`` decoder stages: a learned stride-2 transposed Conv1d (2 taps) back to the skip's channels, the
  concatenation with the skip (both requantized to one scale: CONCATENATION's equal-scale rule), a pointwise
  Conv1d halving the channels, a residual block;
* a pointwise Conv1d to ``n_src * audio_channels`` waveforms (source-major).

Upsampling is learned (transposed convolution), as in the ResUNet of the public separation project this follows;
it exports as TRANSPOSE_CONV (fixed length) or PAD + CONV_2D + RESHAPE (resizable), both delegated to XNNPACK.
The model takes any multiple of ``2 ** n_stages`` samples. No biases: digital silence stays exact zeros.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from torch import nn

from fqss_edge.config_types import Count, Dim, ModelConfigBase
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.unet_blocks import ConvAct, act, init_convs, odd
from fqss_edge.quant.layers import QAdd, QConcat, QConv1d, QConvTranspose1d
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec

GROWTH = 1.5  # channels per stage


class ResUNetConfig(ModelConfigBase):
    name: Literal["resunet"] = "resunet"
    channels: Dim = 32  # of the first stage; stage i has round(channels * 1.5 ** i)
    n_stages: Count = 6
    kernel_size: Dim = 5

    _odd_kernel = field_validator("kernel_size")(odd)


class ResBlock(nn.Module):
    """conv -> act -> conv, + x, -> act (same channels, same length)."""

    def __init__(self, channels: int, kernel_size: int, spec: QuantSpec):
        super().__init__()
        self.conv1 = ConvAct(channels, channels, kernel_size, spec)
        self.conv2 = QConv1d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False, spec=spec)
        self.conv2.residual_branch_end = True  # starts small (``init_convs``): the block starts near the identity
        self.add = QAdd(spec)
        self.act = act(spec)

    def forward(self, x: QTensor) -> QTensor:
        return self.act(self.add(x, self.conv2(self.conv1(x))))


class UpStage(nn.Module):
    """Transposed conv (x2) -> concat with the skip -> pointwise conv -> residual block."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, spec: QuantSpec):
        super().__init__()
        self.up = QConvTranspose1d(c_in, c_out, 2, 2, bias=False, spec=spec)
        self.up_act = act(spec)
        self.join = QConcat(1, out_quant=spec.act())
        self.merge = ConvAct(2 * c_out, c_out, 1, spec)
        self.block = ResBlock(c_out, kernel_size, spec)

    def forward(self, x: QTensor, skip: QTensor) -> QTensor:
        return self.block(self.merge(self.join(self.up_act(self.up(x)), skip)))


class ResUNet(SeparationModel):
    config_class = ResUNetConfig
    input_layer = "input_conv.conv"
    smoke_config = dict(channels=4, n_stages=2, kernel_size=3)

    def __init__(self, config: ResUNetConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c, k = config, config.kernel_size
        widths = [round(c.channels * GROWTH**i) for i in range(c.n_stages + 1)]
        self.input_conv = ConvAct(self.in_channels, widths[0], k, spec)
        self.encoder = nn.ModuleList(ResBlock(w, k, spec) for w in widths[:-1])
        self.down = nn.ModuleList(ConvAct(widths[i], widths[i + 1], 4, spec, stride=2, padding=1)
                                  for i in range(c.n_stages))
        self.bottom = ResBlock(widths[-1], k, spec)
        self.up = nn.ModuleList(UpStage(widths[i + 1], widths[i], k, spec) for i in range(c.n_stages - 1, -1, -1))
        self.length_multiple = 2**c.n_stages
        self.set_decoder(self.waveform_decoder(widths[0]))
        init_convs(self)

    def forward_latent(self, x: QTensor) -> QTensor:
        x = self.input_conv(x)
        skips = []
        for block, down in zip(self.encoder, self.down):
            x = block(x)
            skips.append(x)
            x = down(x)
        x = self.bottom(x)
        for stage, skip in zip(self.up, reversed(skips)):
            x = stage(x, skip)
        return x
