"""Wave-U-Net (Stoller, Ewert and Dixon, 2018): a 1-D U-Net on the waveform.

L downsampling blocks (Conv1d with ``down_kernel`` taps and ``filters * i`` channels at level i, activation, then
decimation by 2; the features before decimation are the skip), a bottom Conv1d (``filters * (L + 1)``), L upsampling
blocks (upsampling by 2, concatenation with the skip, Conv1d with ``up_kernel`` taps back to
``filters * i`` channels, activation), and a pointwise Conv1d to ``n_src * audio_channels`` waveforms (source-major).
The paper's recipe: L = 12, 24 extra filters per level, kernels 15 down / 5 up, about 10.2 M parameters in its
stereo 4-source form (``configs/waveunet.yaml``).

What differs from the paper, and why:
* "same" padding instead of valid convolutions with cropping: every layer keeps the length, so the model takes any
  multiple of ``2 ** n_levels`` samples (``length_multiple``) instead of a fixed 147443 -> 16389 context, and the
  output has the input's length (the contract); the skip concatenation needs no crop;
* nearest-neighbour upsampling instead of linear interpolation: integer midpoints are exact ties that every runtime
  rounds its own way (see ``unet_blocks``); the learned up convolution after it can learn the interpolation;
* the activation is a single-slope PReLU initialised at 0.2 (LeakyReLU with a learned slope: QUANTIZE, MUL and ADD
  in an int8 .tflite, ``QPReLU``), no biases (digital silence stays exact zeros), no tanh and no input-mixture
  concatenation before the output layer (the FQSS splitter's bytes are not the waveform); the output layer is
  linear, as the base's decoder;
* the concatenation requantizes both inputs to one output scale (CONCATENATION's equal-scale rule).
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from torch import nn

from fqss_edge.config_types import Count, Dim, ModelConfigBase
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.unet_blocks import ConvAct, Decimate, Upsample, init_convs, odd
from fqss_edge.quant.layers import QConcat
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class WaveUNetConfig(ModelConfigBase):
    name: Literal["waveunet"] = "waveunet"
    n_levels: Count = 12  # downsampling (and upsampling) blocks
    filters: Dim = 24  # extra filters per level: level i has filters * i channels
    down_kernel: Dim = 15
    up_kernel: Dim = 5

    _odd_kernels = field_validator("down_kernel", "up_kernel")(odd)


class WaveUNet(SeparationModel):
    config_class = WaveUNetConfig
    input_layer = "down.0.conv"
    smoke_config = dict(n_levels=3, filters=4, down_kernel=5, up_kernel=3)

    def __init__(self, config: WaveUNetConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        widths = [self.in_channels] + [c.filters * i for i in range(1, c.n_levels + 2)]
        self.down = nn.ModuleList(ConvAct(widths[i], widths[i + 1], c.down_kernel, spec) for i in range(c.n_levels))
        self.decimate = nn.ModuleList(Decimate() for _ in range(c.n_levels))
        self.bottom = ConvAct(widths[-2], widths[-1], c.down_kernel, spec)
        levels = range(c.n_levels, 0, -1)  # from the bottom up: level i joins the skip of down[i - 1]
        self.upsample = nn.ModuleList(Upsample() for _ in levels)
        self.join = nn.ModuleList(QConcat(1, out_quant=spec.act()) for _ in levels)
        self.up = nn.ModuleList(ConvAct(widths[i + 1] + widths[i], widths[i], c.up_kernel, spec) for i in levels)
        self.length_multiple = 2 ** c.n_levels
        self.set_decoder(self.waveform_decoder(c.filters))
        init_convs(self)

    def forward_latent(self, x: QTensor) -> QTensor:
        skips = []
        for conv, decimate in zip(self.down, self.decimate):
            x = conv(x)
            skips.append(x)
            x = decimate(x)
        x = self.bottom(x)
        for upsample, join, conv, skip in zip(self.upsample, self.join, self.up, reversed(skips)):
            x = conv(join(upsample(x), skip))
        return x
