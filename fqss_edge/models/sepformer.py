"""Sepformer (Subakan et al. 2021; SpeechBrain's ``SepformerSeparation`` layout), fully quantized: encoder ->
dual-path transformer masker -> masks -> decoder, every tensor int8.

Masker (SpeechBrain ``Dual_Path_Model`` with ``SBTransformerBlock`` intra / inter models): gLN (``GroupNorm(1, N)``)
-> 1x1 conv (no bias) -> segmentation into 50 %-overlapping chunks of ``chunk_size`` frames -> ``n_blocks`` dual-path
blocks, each ``n_intra`` then ``n_inter`` pre-LN transformer layers (``d_model = n_filters``, ``n_heads``,
``d_ffn``; every transformer ends with a LayerNorm) with gLN and skip connections -> PReLU -> 1x1 conv to
``n_src * N`` channels -> overlap-add -> ``tanh(conv(x)) * sigmoid(conv(x))`` -> 1x1 conv (no bias) -> ReLU.

Two layouts (``layout``) and a positional encoding (``positional_encoding``):

* ``layout: fqss`` (the default: the int8 path) differs from SpeechBrain's model by design of the integer graph:
  the encoder / decoder pad ``(kernel_size - stride) / 2`` frames, so that ``L = T / stride``, and the length rule
  is ``T % (stride * chunk_size) == 0``: the segmentation's padding is then the same constant for every length
  (SpeechBrain pads by a length-dependent gap), and ``separate`` / streaming pad other lengths.
* ``layout: speechbrain`` is SpeechBrain's exactly: no encoder / decoder padding (``L = (T - kernel) / stride + 1``,
  ``kernel_size = 2 * stride`` as SpeechBrain's ``Encoder``; length rule ``T % stride == 0``, ``T >= kernel``) and
  the segmentation's gap ``K - (K/2 + L % K) % K`` (``dualpath.GapPad``): float and simulation only (the pad
  follows the input length; the ONNX export refuses it, naming the reason).
* ``positional_encoding``: SpeechBrain adds a sinusoidal encoding before every intra and inter transformer
  (``both``: the published recipe, ``configs/sepformer_2spks_8k.yaml``). The intra-chunk one is a constant of
  ``chunk_size`` frames; the inter-chunk one's length is the number of chunks, which follows the input length: a
  table of SpeechBrain's 2500 frames (up to 2500 chunks: 312 s at 8 kHz with the recipe), whose first S frames
  the export cuts with constant operations (``QPositionalEncoding``). Both export, at any length, as int8
  constants and quantized ADDs. ``intra`` adds the intra-chunk one only. The field's default is ``none``: the
  model that checkpoints written before the field existed hold (they store no value for it).

``fold_norms: true`` folds the gamma and beta of the masker's gLN and of the transformer layers' LayerNorms into the
1x1 convs after them (exactly: a SpeechBrain checkpoint gives the same float output with it).

A SpeechBrain checkpoint imports into ``layout: speechbrain, positional_encoding: both``
(``fqss_edge/models/import_speechbrain.py``), which reproduces SpeechBrain's output
(``tests/models/test_import_speechbrain.py``); the same weights run in ``layout: fqss`` on the int8 path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationInfo, field_validator
from torch import nn

from fqss_edge.config_types import ModelConfigBase, PosInt
from fqss_edge.models.base import MaskingModel
from fqss_edge.models.dualpath import (DualPathBlock, OverlapAdd, Segmentation, even_chunk,
                                       heads_divide_filters, stride_fits_kernel)
from fqss_edge.models.transformer import QTransformerEncoder
from fqss_edge.quant.layers import (QConv1d, QGlobalLayerNorm, QMul, QPositionalEncoding, QPReLU, QReLU, QSigmoid,
                                    QTanh)
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec


class SepformerConfig(ModelConfigBase):
    """Sepformer hyper-parameters; defaults: the published 8 kHz recipe (SpeechBrain sepformer-wsj02mix)."""

    name: Literal["sepformer"] = "sepformer"
    n_filters: PosInt = 256  # N: encoder filters = d_model
    kernel_size: PosInt = 16
    stride: PosInt = 8
    chunk_size: PosInt = 250  # K: frames per chunk (hop K / 2)
    n_blocks: PosInt = 2  # dual-path blocks
    n_intra: PosInt = 8  # transformer layers per intra model
    n_inter: PosInt = 8
    n_heads: PosInt = 8
    d_ffn: PosInt = 1024
    layout: Literal["fqss", "speechbrain"] = "fqss"
    positional_encoding: Literal["none", "intra", "both"] = "none"
    # gamma / beta of the masker's gLN and of every transformer layer's LayerNorms folded into the 1x1 convs they feed
    # (exact: the same function, two full-tensor ops fewer per norm; the blocks' gLNs and each transformer's last
    # LayerNorm feed residual ADDs and keep theirs)
    fold_norms: bool = False

    _stride_fits_kernel = field_validator("stride")(stride_fits_kernel)
    _even = field_validator("chunk_size")(even_chunk)

    _divides = field_validator("n_heads")(heads_divide_filters)

    @field_validator("layout")
    @classmethod
    def _speechbrain_encoder(cls, v: str, info: ValidationInfo) -> str:
        k, s = info.data.get("kernel_size"), info.data.get("stride")
        if v == "speechbrain" and k is not None and s is not None and k != 2 * s:
            raise ValueError(f"speechbrain needs kernel_size = 2 * stride (SpeechBrain's Encoder), not {k} and {s}")
        return v

    @field_validator("positional_encoding")
    @classmethod
    def _even_filters(cls, v: str, info: ValidationInfo) -> str:
        n = info.data.get("n_filters")
        if v != "none" and n is not None and n % 2:
            raise ValueError(f"a sinusoidal encoding needs an even n_filters, not {n}")
        return v


class SepformerMasker(nn.Module):
    """``[B, N, L] -> masks [B, n_src * N, L]`` (SpeechBrain's ``Dual_Path_Model``)."""

    def __init__(self, c: SepformerConfig, spec: QuantSpec):
        super().__init__()
        n = c.n_filters
        self.n_src = c.n_src
        self.norm = QGlobalLayerNorm(n, spec, eps=1e-8, folded=c.fold_norms)
        self.conv1d = QConv1d(n, n, 1, bias=False, spec=spec)
        if c.fold_norms:
            self.conv1d.fold_affine_of(self.norm)
        padding = "speechbrain" if c.layout == "fqss" else "speechbrain_gap"
        self.segment = Segmentation(c.chunk_size, padding)

        def transformer(layers: int, encoded: bool, length: int | None) -> QTransformerEncoder:
            """``length``: of the sequences (intra: ``chunk_size``), None: it follows the input (inter: chunks)."""
            pos_enc = QPositionalEncoding(n, spec, length=length) if encoded else None
            return QTransformerEncoder(layers, n, c.n_heads, c.d_ffn, spec, pos_enc=pos_enc, fold_norms=c.fold_norms)

        pe = c.positional_encoding
        self.blocks = nn.ModuleList(
            DualPathBlock(transformer(c.n_intra, pe != "none", c.chunk_size),
                          transformer(c.n_inter, pe == "both", None), n, spec)
            for _ in range(c.n_blocks))
        self.prelu = QPReLU(spec=spec)
        self.conv2d = QConv1d(n, n * c.n_src, 1, spec=spec)  # SpeechBrain's 1x1 Conv2d on [B, N, K, S]
        self.overlap_add = OverlapAdd(c.chunk_size, spec, padding)
        self.output = QConv1d(n, n, 1, spec=spec)
        self.output_tanh = QTanh(spec)
        self.output_gate = QConv1d(n, n, 1, spec=spec)
        self.gate_sigmoid = QSigmoid(spec)
        self.gated = QMul(spec)
        self.end_conv1x1 = QConv1d(n, n, 1, bias=False, spec=spec)
        self.mask_act = QReLU(spec)

    def forward(self, x: QTensor) -> QTensor:
        b, n, _ = x.value.shape
        h0 = self.conv1d(self.norm(x))
        h = self.segment(h0)  # [B, N, K, S]
        for block in self.blocks:
            h = block(h)
        _, _, k, s = h.value.shape
        h = self.prelu(h)
        h = self.conv2d(h.with_value(h.value.reshape(b, n, -1)))  # [B, n_src * N, K * S]
        h = h.with_value(h.value.reshape(b * self.n_src, n, k, s))
        h = self.overlap_add(h, h0) if self.segment.any_length else self.overlap_add(h)  # [B * n_src, N, L]
        h = self.gated(self.output_tanh(self.output(h)), self.gate_sigmoid(self.output_gate(h)))
        m = self.mask_act(self.end_conv1x1(h))
        return m.with_value(m.value.reshape(b, self.n_src * n, -1))


class Sepformer(MaskingModel):
    config_class = SepformerConfig
    smoke_config = dict(n_filters=8, kernel_size=16, stride=8, chunk_size=4, n_blocks=1, n_intra=1, n_inter=1,
                        n_heads=2, d_ffn=16, positional_encoding="both")

    def __init__(self, config: SepformerConfig, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        c = config
        if c.layout == "fqss":
            self.length_multiple = self.min_length = c.stride * c.chunk_size
            padding = (c.kernel_size - c.stride) // 2
        else:  # (T - kernel) / stride + 1 frames, the decoder gives T samples back
            self.length_multiple, self.min_length, padding = c.stride, c.kernel_size, 0
        self.build_filterbank(c.n_filters, c.kernel_size, c.stride, lambda: SepformerMasker(c, spec), enc_act=True,
                              padding=padding)
