"""Temporal convolutional network (Conv-TasNet masker), built from quantized layers.

``norm``: ``gLN`` (global layer norm, as in the paper), ``gLN_folded``, ``BN`` or ``gLN_BN``.

``gLN_folded``: the same gLNs, each with its gamma and beta folded into the convolutions it feeds (the bottleneck,
a block's depthwise conv, its residual and skip 1x1 convs; ``QGlobalLayerNorm(..., folded=True)``): two
full-tensor operations fewer per norm at run time. Exact for the 1x1 convs; the depthwise conv's padded taps read
0 in the normalised domain (``fqss_edge/quant/layers/norm.py``), so a gLN checkpoint loaded into it (the float
teacher of a QAT run) differs in the first and last ``pad`` frames of each depthwise conv: a trained tiny gLN
float model scored -0.001 dB SI-SDRi that way on its test split.

``BN``: BatchNorm placed where it folds exactly into a 1x1 convolution (``fqss_edge/quant/layers/bn_fold.py``), so
that the exported graph has no normalisation op at all:

* before the bottleneck: a BatchNorm on the bottleneck 1x1 conv's input side (where gLN was);
* in a block: ``in_conv -> BN -> PReLU -> dw_conv -> PReLU -> BN -> res_conv / skip_conv``. The first BN folds into
  ``in_conv``'s output side. The second sits on the input side of the residual and the skip 1x1 convs, each with its
  own BatchNorm: the running statistics are those of the same tensor (equal), gamma and beta per consumer. A shared
  affine map followed by two 1x1 convs is a special case of two, so the function class is the same as one shared BN
  (and the depthwise conv, padded, cannot take it on its input side exactly).

``gLN_BN``: the blocks of ``BN`` behind the one gLN of ``gLN`` before the bottleneck. That gLN makes the masker
independent of the input's level (the encoder, a bias-free conv and ReLU, scales with it): a ``BN`` model's
BatchNorms, whose statistics are fixed after training, are not (the real-speech BN float model: validation SI-SDRi
5.66 dB at the training level, 1.26 dB 18 dB below it; ``benchmarks/results/level_sweep_real_speech.md``). One gLN
costs about 5 % of the tiny model's int8 run time where 25 cost more than the int8 convolutions save
(``benchmarks/results/bn_fold_speed_avx512vnni.md``).

``block_act``: ``prelu`` (the paper) or ``relu``. ReLU is fused into the conv in front of it (``QConv1d(...,
act="relu")``: the in and depthwise convs) and, for the activation after the skip sum, into the last skip ADD
(``QAdd(..., act="relu")``; the skip conv when one block is the whole TCN): one requantization each, where a PReLU
is three int8 operations (QUANTIZE, MUL, ADD; ``QPReLU``) after the conv's own. The full-size gLN_BN model's
LiteRT int8 file runs 3.52x faster than its float one with ReLU blocks, 2.76x with PReLU
(``benchmarks/results/bn_fold_speed_full_avx512vnni.md``); accuracy on the QAT benchmark:
``benchmarks/results/qat_methods_summary_convtasnet_tiny_block_act.md``.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from fqss_edge.quant.layers import QAdd, QConv1d, QGlobalLayerNorm, QPReLU, make_activation
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


Norm = Literal["gLN", "gLN_folded", "BN", "gLN_BN"]
BlockAct = Literal["prelu", "relu"]
BN_BLOCKS = ("BN", "gLN_BN")  # the norms whose blocks fold BatchNorms into their 1x1 convs instead of gLNs


def _gln(channels: int, spec: QuantSpec, norm: Norm) -> QGlobalLayerNorm | None:
    return None if norm in BN_BLOCKS else QGlobalLayerNorm(channels, spec, folded=norm == "gLN_folded")


def _fold(gln: QGlobalLayerNorm | None, *consumers: QConv1d) -> None:
    """With ``gLN_folded`` the convs after ``gln`` apply its gamma and beta."""
    if gln is not None and gln.folded:
        for conv in consumers:
            conv.fold_affine_of(gln)


class TCNBlock(nn.Module):
    """1x1 conv -> PReLU -> gLN -> dilated depthwise conv -> PReLU -> gLN -> (residual 1x1, skip 1x1); with ``BN``
    the BatchNorms folded into the 1x1 convs instead, with ``gLN_folded`` the gLNs' affine maps folded into the
    convs after them (module docstring)."""

    def __init__(self, bn_chan: int, hid_chan: int, skip_chan: int, kernel_size: int, dilation: int, spec: QuantSpec,
                 first: bool = False, norm: Norm = "gLN", block_act: BlockAct = "prelu", last: bool = False):
        """``last`` with ``block_act="relu"``: the block's skip sum (its skip conv for a first block) applies the
        ReLU the TCN puts after the whole skip sum."""
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        bn = norm in BN_BLOCKS
        fused = "relu" if block_act == "relu" else None
        self.in_conv = QConv1d(bn_chan, hid_chan, 1, spec=spec, fold_bn="out" if bn else None, act=fused)
        self.act1 = _prelu(spec, block_act)
        self.norm1 = _gln(hid_chan, spec, norm)
        self.dw_conv = QConv1d(hid_chan, hid_chan, kernel_size, padding=pad, dilation=dilation, groups=hid_chan,
                               spec=spec, act=fused)
        self.act2 = _prelu(spec, block_act)
        self.norm2 = _gln(hid_chan, spec, norm)
        self.res_conv = QConv1d(hid_chan, bn_chan, 1, spec=spec, fold_bn="in" if bn else None)
        self.skip_conv = QConv1d(hid_chan, skip_chan, 1, spec=spec, fold_bn="in" if bn else None,
                                 act=fused if last and first else None)
        _fold(self.norm1, self.dw_conv)
        _fold(self.norm2, self.res_conv, self.skip_conv)
        self.res_add = QAdd(spec)
        # the first block starts the skip sum
        self.skip_add = None if first else QAdd(spec, act=fused if last else None)

    def forward(self, x: QTensor, skip: QTensor | None) -> tuple[QTensor, QTensor]:
        h = _optional(self.norm1, _optional(self.act1, self.in_conv(x)))
        h = _optional(self.norm2, _optional(self.act2, self.dw_conv(h)))
        out = self.res_add(x, self.res_conv(h))
        s = self.skip_conv(h)
        return out, (s if self.skip_add is None else self.skip_add(skip, s))


def _optional(layer: nn.Module | None, x: QTensor) -> QTensor:
    """``layer(x)``, or ``x`` where the layer is absent (a gLN folded away, a ReLU fused into the layer in front)."""
    return x if layer is None else layer(x)


def _prelu(spec: QuantSpec, block_act: BlockAct) -> QPReLU | None:
    """A PReLU, or None where the ReLU is fused into the layer in front."""
    return QPReLU(spec=spec) if block_act == "prelu" else None


class TCN(nn.Module):
    """gLN -> bottleneck 1x1 -> R x X TCN blocks (dilations 1..2^(X-1)) -> PReLU -> 1x1 -> mask activation (``BN``:
    the BatchNorms folded into the 1x1 convs; ``block_act="relu"``: ReLUs fused into the layers in front; module
    docstring)."""

    def __init__(self, in_chan: int, n_src: int, bn_chan: int, hid_chan: int, skip_chan: int, conv_kernel_size: int,
                 n_blocks: int, n_repeats: int, mask_act: str, spec: QuantSpec, norm: Norm = "gLN",
                 block_act: BlockAct = "prelu"):
        super().__init__()
        self.n_src = n_src
        self.in_chan = in_chan
        self.norm = _gln(in_chan, spec, "gLN" if norm == "gLN_BN" else norm)
        self.bottleneck = QConv1d(in_chan, bn_chan, 1, spec=spec, fold_bn="in" if norm == "BN" else None)
        _fold(self.norm, self.bottleneck)
        self.blocks = nn.ModuleList(
            TCNBlock(bn_chan, hid_chan, skip_chan, conv_kernel_size, 2**x, spec, first=(r == 0 and x == 0), norm=norm,
                     block_act=block_act, last=(r == n_repeats - 1 and x == n_blocks - 1))
            for r in range(n_repeats) for x in range(n_blocks)
        )
        self.out_act = _prelu(spec, block_act)  # relu: fused into the last block's skip sum
        self.mask_conv = QConv1d(skip_chan, n_src * in_chan, 1, spec=spec)
        self.mask_act = make_activation(mask_act, spec)

    def forward(self, tf_rep: QTensor) -> QTensor:
        """[B, N, F] -> masks [B, n_src * N, F]."""
        x = self.bottleneck(_optional(self.norm, tf_rep))
        skip = None
        for block in self.blocks:
            x, skip = block(x, skip)
        return self.mask_act(self.mask_conv(_optional(self.out_act, skip)))
