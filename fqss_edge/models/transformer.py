"""A quantized transformer encoder on ``[B, d_model, L]`` tensors (channels = features, time = sequence), built
from quantized layers only, so that its forward is its export (no emitter of its own):

* projections and the feed-forward block are 1x1 convolutions (a Linear per frame: int8 per-channel weights,
  int32 bias; TFLite CONV_2D, which XNNPACK runs like FULLY_CONNECTED);
* multi-head attention: heads as the batch (``[B*H, d_k, L]``), scores ``K^T Q`` (QMatMul, int8 per tensor; K and
  V quantized symmetrically, zero point 0, because XNNPACK takes an int8 BATCH_MATMUL only then),
  softmax over the keys (QSoftmax, output 1/256, -128), ``V P`` (QMatMul), output projection. The 1/sqrt(d_k)
  of scaled dot-product attention is folded into the query projection (its weights and bias), so every
  tensor is one quantized operation's output;
* LayerNorm over channels (QLayerNorm: the gLN's integer operations per frame), residual adds (QAdd).

Layers are pre-LN (``normalize_before``, as the Sepformer recipe): ``x + MHA(LN(x))``, then ``x + FFN(LN(x))``,
and the encoder ends with a LayerNorm. An optional sinusoidal positional encoding is added to the encoder's input
(SpeechBrain's ``SBTransformerBlock(use_positional_encoding=True)``): ``QPositionalEncoding``, a constant table
quantized to int8 (scale 1/127: its values are in [-1, 1]) and a quantized Add: a constant of ``length`` frames
(the intra-chunk one, ``chunk_size`` frames), or a table of ``max_len`` frames whose first L the export cuts with
constant operations when the length follows the input (the inter-chunk one, over the chunks).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fqss_edge.quant.layers import (QAdd, QConv1d, QLayerNorm, QMatMul, QPositionalEncoding, QReLU,
                                    QSoftmax)
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


def _view(x: QTensor, *shape: int) -> QTensor:
    return x.with_value(x.value.reshape(*shape))


class QMultiHeadAttention(nn.Module):
    """Self-attention ``[B, D, L] -> [B, D, L]`` with ``n_heads`` heads of ``D / n_heads`` channels."""

    def __init__(self, d_model: int, n_heads: int, spec: QuantSpec):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        # K and V are the right-hand operands of the two BATCH_MATMULs in TFLite's layout (scores^T = Q^T K,
        # mixed^T = P^T V^T): zero point 0, so that XNNPACK takes them (it refuses another right-hand zero point)
        self.q_proj = QConv1d(d_model, d_model, 1, spec=spec)
        self.k_proj = QConv1d(d_model, d_model, 1, spec=spec, out_quant=spec.act(symmetric=True))
        self.v_proj = QConv1d(d_model, d_model, 1, spec=spec, out_quant=spec.act(symmetric=True))
        self.out_proj = QConv1d(d_model, d_model, 1, spec=spec)
        with torch.no_grad():  # scaled dot product: 1/sqrt(d_k) lives in the query projection
            self.q_proj.conv.weight.mul_(1.0 / math.sqrt(self.d_k))
            self.q_proj.conv.bias.mul_(1.0 / math.sqrt(self.d_k))
        self.scores = QMatMul(spec)
        self.softmax = QSoftmax(spec)
        self.mix = QMatMul(spec)

    def forward(self, x: QTensor) -> QTensor:
        b, d, n = x.value.shape
        bh = b * self.n_heads
        q = _view(self.q_proj(x), bh, self.d_k, n)
        k = self.k_proj(x)
        keys = k.with_value(k.value.reshape(bh, self.d_k, n).transpose(1, 2))  # [BH, L_k, d_k]
        v = _view(self.v_proj(x), bh, self.d_k, n)
        probs = self.softmax(self.scores(keys, q))  # [BH, L_k, L_q], softmax over the keys
        return self.out_proj(_view(self.mix(v, probs), b, d, n))


class QFeedForward(nn.Module):
    """Linear -> ReLU -> Linear per frame."""

    def __init__(self, d_model: int, d_ffn: int, spec: QuantSpec):
        super().__init__()
        self.fc1 = QConv1d(d_model, d_ffn, 1, spec=spec)
        self.act = QReLU(spec)
        self.fc2 = QConv1d(d_ffn, d_model, 1, spec=spec)

    def forward(self, x: QTensor) -> QTensor:
        return self.fc2(self.act(self.fc1(x)))


class QTransformerLayer(nn.Module):
    """Pre-LN encoder layer: ``x + MHA(LN(x))``, then ``x + FFN(LN(x))``. ``fold_norms``: each LayerNorm's gamma and
    beta folded into the 1x1 convs it feeds (Q, K, V projections; the first feed-forward layer): exact, two
    full-tensor operations fewer per LayerNorm (``QGlobalLayerNorm(..., folded=True)``)."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, spec: QuantSpec, eps: float = 1e-6,
                 fold_norms: bool = False):
        super().__init__()
        self.norm1 = QLayerNorm(d_model, spec, eps=eps, folded=fold_norms)
        self.attn = QMultiHeadAttention(d_model, n_heads, spec)
        self.add1 = QAdd(spec)
        self.norm2 = QLayerNorm(d_model, spec, eps=eps, folded=fold_norms)
        self.ffn = QFeedForward(d_model, d_ffn, spec)
        self.add2 = QAdd(spec)
        if fold_norms:
            for conv in (self.attn.q_proj, self.attn.k_proj, self.attn.v_proj):
                conv.fold_affine_of(self.norm1)
            self.ffn.fc1.fold_affine_of(self.norm2)

    def forward(self, x: QTensor) -> QTensor:
        x = self.add1(x, self.attn(self.norm1(x)))
        return self.add2(x, self.ffn(self.norm2(x)))


class QTransformerEncoder(nn.Module):
    """An optional positional encoding, ``n_layers`` pre-LN layers and a final LayerNorm, ``[B, D, L] -> [B, D, L]``
    (``fold_norms``: the layers', see ``QTransformerLayer``; the final one feeds whatever follows and keeps its own)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ffn: int, spec: QuantSpec, eps: float = 1e-6,
                 pos_enc: QPositionalEncoding | None = None, fold_norms: bool = False):
        super().__init__()
        self.pos_enc = pos_enc
        self.layers = nn.ModuleList(QTransformerLayer(d_model, n_heads, d_ffn, spec, eps, fold_norms)
                                    for _ in range(n_layers))
        self.norm = QLayerNorm(d_model, spec, eps=eps)

    def forward(self, x: QTensor) -> QTensor:
        if self.pos_enc is not None:
            x = self.pos_enc(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)
