"""DPRNN (Luo et al. 2020; asteroid's ``DPRNNTasNet`` layout), fully quantized on the integer LSTM: encoder ->
dual-path RNN masker -> masks -> decoder.

Masker (asteroid ``DPRNN``): gLN -> 1x1 conv to ``bn_chan`` -> segmentation into 50 %-overlapping chunks of
``chunk_size`` frames (asteroid's padding: ``K`` zeros on both sides) -> ``n_repeats`` dual-path blocks (asteroid's
``DPRNNBlock``: intra-chunk BiLSTM + Linear(2H -> bn_chan) + gLN, residual; inter-chunk (Bi)LSTM + Linear + gLN,
residual) -> PReLU -> 1x1 conv to ``n_src * bn_chan`` -> overlap-add -> ``tanh(conv(x)) * sigmoid(conv(x))``
-> 1x1 conv to ``n_filters`` (no bias) -> mask activation. The LSTMs are ``QLSTM`` (TFLite's fully integer
UNIDIRECTIONAL_SEQUENCE_LSTM, a backward direction reversed around it); each Linear is a 1x1 convolution.

One difference from asteroid's model, by design of the integer graph: the encoder / decoder pad
``(kernel_size - stride) / 2`` frames, so that ``L = T / stride`` and the length rule is
``T % (stride * chunk_size) == 0`` (the segmentation's padding is then a constant). Our model on ``x`` is asteroid's
on ``x`` with ``(kernel_size - stride) / 2`` zeros on both sides, cropped back (``tests/models/test_dprnn.py``).
The parameter layout is asteroid's: 3,652,865 parameters for the defaults with 2 sources, in both
(``tests/models/test_dprnn.py``); ``fqss_edge/models/asteroid_dualpath.py`` loads asteroid's state dicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from torch import nn

from fqss_edge.config_types import ModelConfigBase, PosInt
from fqss_edge.models.base import MaskingModel
from fqss_edge.models.dualpath import (DualPathBlock, OverlapAdd, RNNPath, Segmentation, even_chunk,
                                       stride_fits_kernel)
from fqss_edge.quant.layers import (QConv1d, QGlobalLayerNorm, QMul, QPReLU, QSigmoid, QTanh,
                                    make_activation)
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class DPRNNConfig(ModelConfigBase):
    """DPRNN hyper-parameters; defaults: asteroid's ``DPRNNTasNet`` (hop = chunk_size / 2, one LSTM layer)."""

    name: Literal["dprnn"] = "dprnn"
    n_filters: PosInt = 64  # N: encoder filters
    kernel_size: PosInt = 16
    stride: PosInt = 8
    bn_chan: PosInt = 128  # channels of the dual-path blocks
    hid_size: PosInt = 128  # LSTM hidden size (per direction)
    chunk_size: PosInt = 100  # K: frames per chunk (hop K / 2)
    n_repeats: PosInt = 6  # dual-path blocks
    norm: Literal["gLN"] = "gLN"
    mask_act: Literal["sigmoid", "relu"] = "sigmoid"
    bidirectional: bool = True  # the inter-chunk LSTM (the intra-chunk one is always bidirectional, as asteroid's)
    rnn_type: Literal["LSTM"] = "LSTM"

    _stride_fits_kernel = field_validator("stride")(stride_fits_kernel)
    _even = field_validator("chunk_size")(even_chunk)


class DPRNNMasker(nn.Module):
    """``[B, N, L] -> masks [B, n_src * N, L]`` (asteroid's ``DPRNN``)."""

    def __init__(self, c: DPRNNConfig, spec: QuantSpec):
        super().__init__()
        n, bn = c.n_filters, c.bn_chan
        self.n_src = c.n_src
        self.norm = QGlobalLayerNorm(n, spec, eps=1e-8)
        self.bottleneck = QConv1d(n, bn, 1, spec=spec)
        self.segment = Segmentation(c.chunk_size, "asteroid")
        self.blocks = nn.ModuleList(
            DualPathBlock(RNNPath(bn, c.hid_size, True, spec), RNNPath(bn, c.hid_size, c.bidirectional, spec), bn,
                          spec)
            for _ in range(c.n_repeats))
        self.prelu = QPReLU(spec=spec)
        self.first_out = QConv1d(bn, bn * c.n_src, 1, spec=spec)  # asteroid's 1x1 Conv2d on [B, bn, K, S]
        self.overlap_add = OverlapAdd(c.chunk_size, spec, "asteroid")
        self.net_out = QConv1d(bn, bn, 1, spec=spec)
        self.out_tanh = QTanh(spec)
        self.net_gate = QConv1d(bn, bn, 1, spec=spec)
        self.gate_sigmoid = QSigmoid(spec)
        self.gated = QMul(spec)
        self.mask_net = QConv1d(bn, n, 1, bias=False, spec=spec)
        self.mask_act = make_activation(c.mask_act, spec)

    def forward(self, x: QTensor) -> QTensor:
        b = x.value.shape[0]
        h = self.segment(self.bottleneck(self.norm(x)))  # [B, bn, K, S]
        for block in self.blocks:
            h = block(h)
        _, bn, k, s = h.value.shape
        h = self.prelu(h)
        h = self.first_out(h.with_value(h.value.reshape(b, bn, -1)))  # [B, n_src * bn, K * S]
        h = self.overlap_add(h.with_value(h.value.reshape(b * self.n_src, bn, k, s)))  # [B * n_src, bn, L]
        h = self.gated(self.out_tanh(self.net_out(h)), self.gate_sigmoid(self.net_gate(h)))
        m = self.mask_act(self.mask_net(h))
        return m.with_value(m.value.reshape(b, -1, m.value.shape[-1]))


class DPRNN(MaskingModel):
    config_class = DPRNNConfig
    fixed_length_tflite = True  # the intra-chunk LSTM's batch is B * chunks
    smoke_config = dict(n_filters=8, kernel_size=16, stride=8, bn_chan=8, hid_size=4, chunk_size=4, n_repeats=1)

    def __init__(self, config: DPRNNConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        self.length_multiple = self.min_length = c.stride * c.chunk_size
        self.build_filterbank(c.n_filters, c.kernel_size, c.stride, lambda: DPRNNMasker(c, spec), enc_act=False,
                              padding=(c.kernel_size - c.stride) // 2)
