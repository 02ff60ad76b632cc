"""DPTNet (Chen et al. 2020; asteroid's ``DPTNet`` layout), fully quantized on the integer LSTM: encoder (ReLU) ->
dual-path transformer masker -> masks -> decoder.

Masker (asteroid ``DPTransformer``): gLN -> segmentation into 50 %-overlapping chunks of ``chunk_size`` frames
(asteroid's padding: ``K`` zeros on both sides) -> ``n_repeats`` pairs of improved transformer layers, intra-chunk
then inter-chunk, with nothing around them: each layer is ``x = gLN(x + MHA(x))``, then
``gLN(x + Linear(ReLU(LSTM(x))))`` (the recurrent feed-forward; the intra-chunk LSTM always bidirectional) ->
PReLU -> 1x1 conv to ``n_src * N`` -> overlap-add -> ``tanh(conv(x)) * sigmoid(conv(x))`` -> mask activation.
Attention is ``fqss_edge.models.transformer``'s (1/sqrt(d_k) folded into the query projection), the LSTMs are
``QLSTM``, each Linear a 1x1 convolution. gLN inside a layer normalises each sequence (``[B', N, L']``).

Differences from asteroid's model, by design of the integer graph (``fqss_edge/models/asteroid_dualpath.py``
maps its state dicts exactly):

* the encoder / decoder pad ``(kernel_size - stride) / 2`` frames (length rule ``T % (stride * chunk_size) == 0``);
  our model on ``x`` is asteroid's on ``x`` with that many zeros on both sides, cropped back;
* asteroid's overlap-add divides by ``chunk_size / hop = 2``: the halving lives in the two gate convolutions'
  weights (exact in float); n_filters must be a multiple of n_heads (asteroid would add a Linear otherwise).
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
from torch import nn

from fqss_edge.config_types import ModelConfigBase, PosInt
from fqss_edge.models.base import MaskingModel
from fqss_edge.models.dualpath import (DualPath, OverlapAdd, RNNPath, Segmentation,
                                       even_chunk, heads_divide_filters, stride_fits_kernel)
from fqss_edge.models.transformer import QMultiHeadAttention
from fqss_edge.quant.layers import (QAdd, QConv1d, QGlobalLayerNorm, QMul, QPReLU, QReLU, QSigmoid,
                                    QTanh, make_activation)
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class DPTNetConfig(ModelConfigBase):
    """DPTNet hyper-parameters; defaults: asteroid's ``DPTNet`` (hop = chunk_size / 2)."""

    name: Literal["dptnet"] = "dptnet"
    n_filters: PosInt = 64  # N: encoder filters = the transformer's d_model
    kernel_size: PosInt = 16
    stride: PosInt = 8
    n_heads: PosInt = 4
    ff_hid: PosInt = 256  # hidden size of the feed-forward LSTM (per direction)
    chunk_size: PosInt = 100  # K: frames per chunk (hop K / 2)
    n_repeats: PosInt = 6  # pairs of intra / inter layers
    norm: Literal["gLN"] = "gLN"
    ff_activation: Literal["relu"] = "relu"
    mask_act: Literal["relu", "sigmoid"] = "relu"
    bidirectional: bool = True  # the inter-chunk LSTM (intra-chunk: always bidirectional)
    encoder_act: Literal["relu"] = "relu"

    _stride_fits_kernel = field_validator("stride")(stride_fits_kernel)
    _even = field_validator("chunk_size")(even_chunk)

    _divides = field_validator("n_heads")(heads_divide_filters)


class ImprovedTransformerLayer(nn.Module):
    """``[B', N, L'] -> [B', N, L']``: ``x = gLN(x + MHA(x))``, then ``gLN(x + Linear(ReLU(LSTM(x))))``."""

    def __init__(self, d_model: int, n_heads: int, hidden: int, bidirectional: bool, spec: QuantSpec):
        super().__init__()
        self.mha = QMultiHeadAttention(d_model, n_heads, spec)
        self.mha_add = QAdd(spec)
        self.norm_mha = QGlobalLayerNorm(d_model, spec, eps=1e-8)
        self.ff = RNNPath(d_model, hidden, bidirectional, spec, activation=QReLU(spec))
        self.ff_add = QAdd(spec)
        self.norm_ff = QGlobalLayerNorm(d_model, spec, eps=1e-8)

    def forward(self, x: QTensor) -> QTensor:
        x = self.norm_mha(self.mha_add(self.mha(x), x))
        return self.norm_ff(self.ff_add(self.ff(x), x))


class DPTNetMasker(nn.Module):
    """``[B, N, L] -> masks [B, n_src * N, L]`` (asteroid's ``DPTransformer``)."""

    def __init__(self, c: DPTNetConfig, spec: QuantSpec):
        super().__init__()
        n = c.n_filters
        self.n_src = c.n_src
        self.norm = QGlobalLayerNorm(n, spec, eps=1e-8)
        self.segment = Segmentation(c.chunk_size, "asteroid")
        self.blocks = nn.ModuleList(
            DualPath(ImprovedTransformerLayer(n, c.n_heads, c.ff_hid, True, spec),
                     ImprovedTransformerLayer(n, c.n_heads, c.ff_hid, c.bidirectional, spec))
            for _ in range(c.n_repeats))
        self.prelu = QPReLU(spec=spec)
        self.first_out = QConv1d(n, n * c.n_src, 1, spec=spec)  # asteroid's 1x1 Conv2d on [B, N, K, S]
        self.overlap_add = OverlapAdd(c.chunk_size, spec, "asteroid")
        self.net_out = QConv1d(n, n, 1, spec=spec)
        self.out_tanh = QTanh(spec)
        self.net_gate = QConv1d(n, n, 1, spec=spec)
        self.gate_sigmoid = QSigmoid(spec)
        self.gated = QMul(spec)
        self.mask_act = make_activation(c.mask_act, spec)

    def forward(self, x: QTensor) -> QTensor:
        b, n, _ = x.value.shape
        h = self.segment(self.norm(x))  # [B, N, K, S]
        for block in self.blocks:
            h = block(h)
        _, _, k, s = h.value.shape
        h = self.first_out(self.prelu(h.with_value(h.value.reshape(b, n, -1))))  # [B, n_src * N, K * S]
        h = self.overlap_add(h.with_value(h.value.reshape(b * self.n_src, n, k, s)))  # [B * n_src, N, L]
        m = self.mask_act(self.gated(self.out_tanh(self.net_out(h)), self.gate_sigmoid(self.net_gate(h))))
        return m.with_value(m.value.reshape(b, self.n_src * n, -1))


class DPTNet(MaskingModel):
    config_class = DPTNetConfig
    fixed_length_tflite = True  # the intra-chunk LSTM's batch is B * chunks
    smoke_config = dict(n_filters=8, kernel_size=16, stride=8, n_heads=2, ff_hid=4, chunk_size=4, n_repeats=1)

    def __init__(self, config: DPTNetConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        self.length_multiple = self.min_length = c.stride * c.chunk_size
        self.build_filterbank(c.n_filters, c.kernel_size, c.stride, lambda: DPTNetMasker(c, spec), enc_act=True,
                              padding=(c.kernel_size - c.stride) // 2)
