"""Conv-TasNet as encoder -> masker (TCN) -> decoder, fully quantized (or float with quantization disabled).

With FQSS options the encoder takes the two bytes of the input (splitter) and the decoder output goes
through the residual output block (both owned by ``SeparationModel``). Length contract: T is a multiple of
``stride`` and >= ``kernel_size`` (``forward`` pads other lengths with zeros and crops the output back).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from fqss_edge.config_types import Count, Dim, ModelConfigBase
from fqss_edge.models.base import MaskingModel
from fqss_edge.models.tcn import TCN
from fqss_edge.quant.spec import FLOAT, QuantSpec


class ConvTasNetConfig(ModelConfigBase):
    """Conv-TasNet hyper-parameters (asteroid/paper names in comments); defaults: the paper's 8 kHz recipe."""

    name: Literal["convtasnet"] = "convtasnet"
    n_filters: Dim = 512  # N: encoder filters
    kernel_size: Dim = 16  # L: encoder window (samples)
    stride: Dim = 8
    bn_chan: Dim = 128  # B: bottleneck channels
    hid_chan: Dim = 512  # H: channels inside a TCN block
    skip_chan: Dim = 128
    conv_kernel_size: Dim = 3  # P: depthwise kernel
    n_blocks: Annotated[Count, Field(le=24)] = 8  # X: blocks per repeat (dilations 1 .. 2**(X-1))
    n_repeats: Count = 3  # R
    mask_act: Literal["relu", "sigmoid"] = "relu"
    # gLN_folded: gamma / beta folded into the next convs; BN: BatchNorm folded into the 1x1 convs; gLN_BN: those
    # blocks behind one gLN at the masker input (tcn.py)
    norm: Literal["gLN", "gLN_folded", "BN", "gLN_BN"] = "gLN"
    encoder_act: Literal["relu", "none"] = "relu"
    # the TCN's activations: PReLU (the paper) or ReLU fused into the convs and the last skip sum (tcn.py)
    block_act: Literal["prelu", "relu"] = "prelu"
    late_fields = ("block_act",)

    @field_validator("stride")
    @classmethod
    def _stride_fits_kernel(cls, v: int, info: ValidationInfo) -> int:
        kernel = info.data.get("kernel_size")
        if kernel is not None and v > kernel:
            raise ValueError(f"must be <= kernel_size ({kernel})")
        return v


class ConvTasNet(MaskingModel):
    config_class = ConvTasNetConfig
    # the smallest useful configuration: unit tests, smoke runs (one of each layer, seconds to export)
    smoke_config = dict(n_filters=16, kernel_size=16, stride=8, bn_chan=8, hid_chan=16, skip_chan=8,
                        conv_kernel_size=3, n_blocks=2, n_repeats=1)

    def __init__(self, config: ConvTasNetConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        self.length_multiple, self.min_length = c.stride, c.kernel_size
        self.build_filterbank(c.n_filters, c.kernel_size, c.stride,
                              lambda: TCN(c.n_filters, c.n_src, c.bn_chan, c.hid_chan, c.skip_chan,
                                          c.conv_kernel_size, c.n_blocks, c.n_repeats, c.mask_act, spec, c.norm,
                                          c.block_act),
                              enc_act=c.encoder_act == "relu")
