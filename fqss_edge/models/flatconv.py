"""FlatConv: the single-scale convolutional baseline of time-domain separation.

A stack of same-resolution Conv1d + ReLU layers on the waveform, and a last Conv1d that predicts the sources
directly (no encoder, no masks; trained with the PIT MSE loss, ``train.loss: mse``). Every layer keeps the length
(stride 1, "same" padding), so any length is valid. The defaults have about 0.56 M parameters and a receptive field
of ``(n_layers + 1) * (kernel_size - 1) + 1`` samples (155, 19.4 ms at 8 kHz).
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from torch import nn

from fqss_edge.config_types import Count, Dim, ModelConfigBase
from fqss_edge.models.base import SeparationModel
from fqss_edge.quant.layers import QConv1d, QReLU
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class FlatConvConfig(ModelConfigBase):
    name: Literal["flatconv"] = "flatconv"
    channels: Dim = 64  # channels of every hidden layer
    kernel_size: Dim = 15  # odd: "same" padding keeps the length
    n_layers: Count = 10  # Conv1d + ReLU layers before the output Conv1d

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("must be odd (same-length convolutions)")
        return v


class FlatConv(SeparationModel):
    config_class = FlatConvConfig
    input_layer = "layers.0"
    smoke_config = dict(channels=8, kernel_size=5, n_layers=2)

    def __init__(self, config: FlatConvConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c, pad = config, config.kernel_size // 2
        widths = [self.in_channels] + [c.channels] * c.n_layers
        self.layers = nn.ModuleList(QConv1d(i, o, c.kernel_size, padding=pad, spec=spec)
                                    for i, o in zip(widths[:-1], widths[1:]))
        self.acts = nn.ModuleList(QReLU(spec) for _ in range(c.n_layers))
        self.set_decoder(self.waveform_decoder(c.channels, c.kernel_size, pad))

    def forward_latent(self, x: QTensor) -> QTensor:
        for conv, act in zip(self.layers, self.acts):
            x = act(conv(x))
        return x
