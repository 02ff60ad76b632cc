"""The lightweight Wave-U-Net: strided depthwise-separable encoder, ASPP bottom, receptive-field-preserving decoder.

* encoder: an input Conv1d (``kernel_size`` taps, ``channels[0]``), then ``len(channels) - 1`` downsampling blocks,
  each a stride-2 Conv1d (4 taps, pads 1: T -> T / 2) to ``channels[i]`` and a depthwise-separable conv
  (depthwise ``kernel_size`` taps, pointwise); every block's output is a skip;
* bottom: Atrous Spatial Pyramid Pooling: a pointwise branch and one depthwise-separable branch per dilation in
  ``aspp_dilations`` (3 taps), each to ``aspp_channels``, concatenated, projected back to ``channels[-1]``;
* decoder (receptive-field preserving): instead of upsampling, every skip is mapped from time to depth
  (space-to-depth by ``2 ** (levels - i)``) down to the bottom's rate, where the decoder works: the concatenation of
  the ASPP output and all skips -> pointwise to ``decoder_channels`` -> ``decoder_blocks`` depthwise-separable
  convs (whose taps span ``2 ** levels`` times more input samples than at full rate) -> depth-to-space back to the
  full rate (``decoder_channels / 2 ** levels`` channels);
* temporal attention on the last layer: ``h * sigmoid(conv(h))`` (a Conv1d gate of ``kernel_size`` taps along
  time), then the output Conv1d to ``n_src * audio_channels`` waveforms (source-major).

The recipe (``configs/waveunet_lite.yaml``): 4 downsampling blocks, a 16384-sample training context at 22.05 kHz,
about 0.85 M parameters with 2 audio channels and 4 sources. The model takes any multiple of ``2 ** levels``
samples (``length_multiple``); every convolution keeps the length ("same" pads), so the 16384-sample context is the
training segment, not a constraint of the graph. Concatenations requantize their inputs to one output scale
(CONCATENATION's equal-scale rule). No biases: digital silence stays exact zeros.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator
from torch import nn

from fqss_edge.config_types import Count, Dim, ModelConfigBase
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.unet_blocks import (ConvAct, SeparableConv, depth_to_space, init_convs, odd,
                                          space_to_depth)
from fqss_edge.quant.layers import QConcat, QConv1d, QMul, QSigmoid
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class WaveUNetLiteConfig(ModelConfigBase):
    name: Literal["waveunet_lite"] = "waveunet_lite"
    channels: list[Dim] = [24, 48, 72, 96, 160]  # input conv, then one entry per downsampling block
    kernel_size: Dim = 15
    aspp_channels: Dim = 96
    aspp_dilations: list[Dim] = [2, 4, 8]
    decoder_channels: Dim = 256
    decoder_blocks: Count = 3

    _odd_kernel = field_validator("kernel_size")(odd)

    @model_validator(mode="after")
    def _shapes(self) -> "WaveUNetLiteConfig":
        if len(self.channels) < 2:
            raise ValueError("channels: the input conv and at least one downsampling block")
        if self.decoder_channels % 2 ** (len(self.channels) - 1):
            raise ValueError(f"decoder_channels must be a multiple of 2 ** {len(self.channels) - 1} (depth-to-space "
                             f"back to the full rate)")
        return self


class WaveUNetLite(SeparationModel):
    config_class = WaveUNetLiteConfig
    input_layer = "encoder.0.conv"
    smoke_config = dict(channels=[4, 6, 8], kernel_size=5, aspp_channels=4, aspp_dilations=[2],
                        decoder_channels=16, decoder_blocks=1)

    def __init__(self, config: WaveUNetLiteConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        ch, k = c.channels, c.kernel_size
        self.levels = len(ch) - 1
        self.encoder = nn.ModuleList([ConvAct(self.in_channels, ch[0], k, spec)])
        self.encoder.extend(nn.Sequential(ConvAct(ch[i - 1], ch[i], 4, spec, stride=2, padding=1),
                                          SeparableConv(ch[i], ch[i], k, spec)) for i in range(1, len(ch)))
        self.aspp = nn.ModuleList([ConvAct(ch[-1], c.aspp_channels, 1, spec)])
        self.aspp.extend(SeparableConv(ch[-1], c.aspp_channels, 3, spec, dilation=d) for d in c.aspp_dilations)
        self.aspp_join = QConcat(1, out_quant=spec.act())
        self.aspp_out = ConvAct(c.aspp_channels * len(self.aspp), ch[-1], 1, spec)
        gathered = ch[-1] + sum(w * 2 ** (self.levels - i) for i, w in enumerate(ch[:-1]))
        self.gather = QConcat(1, out_quant=spec.act())
        self.decoder_in = ConvAct(gathered, c.decoder_channels, 1, spec)
        self.decoder_convs = nn.Sequential(*(SeparableConv(c.decoder_channels, c.decoder_channels, k, spec)
                                             for _ in range(c.decoder_blocks)))
        full_rate = c.decoder_channels // 2**self.levels
        self.gate = QConv1d(full_rate, full_rate, k, padding=k // 2, bias=False, spec=spec)
        self.gate_act = QSigmoid(spec)
        self.attend = QMul(spec)
        self.length_multiple = 2**self.levels
        self.set_decoder(self.waveform_decoder(full_rate, k, k // 2))
        init_convs(self)

    def forward_latent(self, x: QTensor) -> QTensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        bottom = self.aspp_out(self.aspp_join(*(branch(x) for branch in self.aspp)))
        folded = [space_to_depth(s, 2 ** (self.levels - i)) for i, s in enumerate(skips[:-1])]
        h = self.decoder_convs(self.decoder_in(self.gather(bottom, *folded)))
        h = depth_to_space(h, 2**self.levels)
        return self.attend(h, self.gate_act(self.gate(h)))
