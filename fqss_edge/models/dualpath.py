"""The dual-path machinery (DPRNN, DPTNet, Sepformer): segmentation into 50 %-overlapping chunks, intra- and
inter-chunk processing, and overlap-add back, from quantized data-movement layers only (zero pad, slices, one
concatenation, views and transposes), so that the simulation and every export use identical scales.

Shapes follow SpeechBrain's ``Dual_Path_Model`` (and its padding rule), channels first:

* ``Segmentation(K, padding)``: ``[B, N, L] -> [B, N, K, S]``, hop ``P = K / 2``. The input length must be a
  multiple of ``K`` (the model's length rule), so that the padding is a constant and the graph needs no
  length-dependent padding. ``padding="speechbrain"``: ``P`` zeros before and ``K`` after, ``S = 2 L / K + 2``
  chunks; ``padding="asteroid"`` (asteroid's ``unfold(padding=K)``, DPRNN and DPTNet): ``K`` zeros on both sides,
  ``S = 2 L / K + 3`` chunks (built as ``2 L / K + 4`` chunks with one more zero hop at the end, the last dropped).
  ``padding="speechbrain_gap"``: SpeechBrain's ``_padding`` for any ``L``: ``P`` zeros before, ``P + gap`` after,
  ``gap = K - (P + L % K) % K`` (``P`` when K divides L: the ``"speechbrain"`` layout); the pad follows the input
  length (``GapPad``), so this mode runs in float and in the simulation only (its emitter refuses to export it).
* ``DualPathBlock(intra, inter, ...)``: the sequence models are passed in. ``intra`` sees ``[B*S, N, K]`` (each
  chunk a sequence of K frames), ``inter`` sees ``[B*K, N, S]`` (each position across chunks); both map
  ``[B', N, L'] -> [B', N, L']``. Each output is normalised (gLN over ``N x K x S``, SpeechBrain's
  ``GroupNorm(1, N)``) and added to the block's input (skip around intra, then inter + intra).
* ``OverlapAdd(K, spec, padding)``: ``[B, N, K, S] -> [B, N, L]``, the exact inverse layout of the segmentation
  (asteroid's ``fold``, SpeechBrain's ``_over_add``), overlapping halves summed by one quantized ADD; with
  ``"speechbrain_gap"`` it takes the segmentation's input as a second argument and crops to its length
  (``LengthCrop``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationInfo
from torch import nn

from fqss_edge.quant.layers import (GapPad, LengthCrop, QAdd, QConcat, QConv1d, QGlobalLayerNorm, QLSTM,
                                    QPad, QSlice)
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec


Padding = Literal["speechbrain", "asteroid", "speechbrain_gap"]


def stride_fits_kernel(v: int, info: ValidationInfo) -> int:
    """Config validator of ``stride`` (dual-path models pad the encoder by ``(kernel_size - stride) / 2``)."""
    kernel = info.data.get("kernel_size")
    if kernel is not None and (v > kernel or (kernel - v) % 2):
        raise ValueError(f"must be <= kernel_size ({kernel}) with kernel_size - stride even")
    return v


def even_chunk(v: int) -> int:
    """Config validator of ``chunk_size``."""
    if v % 2:
        raise ValueError("must be even (50 % overlap)")
    return v


def heads_divide_filters(v: int, info: ValidationInfo) -> int:
    """Config validator of ``n_heads`` (attention over ``n_filters`` channels)."""
    n = info.data.get("n_filters")
    if n is not None and n % v:
        raise ValueError(f"must divide n_filters ({n})")
    return v


def _check_chunk(chunk_size: int) -> int:
    if chunk_size < 2 or chunk_size % 2:
        raise ValueError(f"chunk_size must be even and >= 2, not {chunk_size}")
    return chunk_size // 2


class Segmentation(nn.Module):
    """``[B, N, L] -> [B, N, K, S]``: 50 %-overlapping chunks of ``K`` frames (L a multiple of K)."""

    def __init__(self, chunk_size: int, padding: Padding = "speechbrain"):
        super().__init__()
        self.chunk_size = chunk_size
        hop = _check_chunk(chunk_size)
        self.any_length = padding == "speechbrain_gap"
        if padding == "speechbrain":  # gap = K - (P + L % K) % K = P, then P on both sides
            self.pad = QPad(hop, chunk_size)
            self.drop_last = None
        elif self.any_length:
            self.pad = GapPad(chunk_size)
            self.drop_last = None
        else:  # K on both sides, and one more hop of zeros: a last chunk of padding only, dropped
            self.pad = QPad(chunk_size, chunk_size + hop)
            self.drop_last = QSlice(2, 0, -1)
        self.first = QSlice(2, 0, -hop)
        self.second = QSlice(2, hop, None)
        self.interleave = QConcat(3)

    def forward(self, x: QTensor) -> QTensor:
        b, n, length = x.value.shape
        if length % self.chunk_size and not self.any_length:
            raise ValueError(f"Segmentation: length {length} is not a multiple of the chunk size {self.chunk_size}")
        k = self.chunk_size
        padded = self.pad(x)
        first, second = self.first(padded), self.second(padded)  # chunks at 0, K, ... and at P, P + K, ...
        chunks = self.interleave(first.with_value(first.value.reshape(b, n, -1, k)),
                                 second.with_value(second.value.reshape(b, n, -1, k)))  # [B, N, S/2, 2K]
        chunks = chunks.with_value(chunks.value.reshape(b, n, -1, k))  # [B, N, S, K]
        if self.drop_last is not None:
            chunks = self.drop_last(chunks)
        return chunks.with_value(chunks.value.transpose(2, 3))


class OverlapAdd(nn.Module):
    """``[B, N, K, S] -> [B, N, L]``: the inverse of ``Segmentation``, overlapping halves summed."""

    def __init__(self, chunk_size: int, spec: QuantSpec, padding: Padding = "speechbrain"):
        super().__init__()
        k, hop = chunk_size, _check_chunk(chunk_size)
        self.chunk_size = chunk_size
        # asteroid: S is odd, one zero chunk makes the pairs; the chunks at 0, K, ... (first) cover [0, L + 2K) of
        # the padded axis, those at P, P + K, ... (second) [P, L + 2K + P); the signal is [K, L + K)
        self.pad = QPad(0, k) if padding == "asteroid" else None
        self.first = QSlice(3, 0, k)
        self.second = QSlice(3, k, None)
        self.crop = LengthCrop() if padding == "speechbrain_gap" else None
        if padding == "speechbrain":  # first covers [0, L + K), second [P, L + K + P); the signal is [P, L + P)
            self.first_crop, self.second_crop = QSlice(2, hop, -hop), QSlice(2, 0, -k)
        elif self.crop is not None:  # the signal is [P, L + P), then the gap: cropped to L after the sum
            self.first_crop, self.second_crop = QSlice(2, hop, None), QSlice(2, 0, -hop)
        else:
            self.first_crop, self.second_crop = QSlice(2, k, -k), QSlice(2, hop, -(k + hop))
        self.add = QAdd(spec)

    def forward(self, x: QTensor, like: QTensor | None = None) -> QTensor:
        """``like``: the segmentation's input (``"speechbrain_gap"``: the output is cropped to its length)."""
        b, n, k, _ = x.value.shape
        chunks = x.with_value(x.value.transpose(2, 3).reshape(b, n, -1))  # [B, N, S * K]
        if self.pad is not None:
            chunks = self.pad(chunks)
        pairs = chunks.with_value(chunks.value.reshape(b, n, -1, 2 * k))  # [B, N, S/2, 2K]
        first, second = self.first(pairs), self.second(pairs)
        first = self.first_crop(first.with_value(first.value.reshape(b, n, -1)))
        second = self.second_crop(second.with_value(second.value.reshape(b, n, -1)))
        if self.crop is None:
            return self.add(first, second)
        if like is None:
            raise ValueError("OverlapAdd(padding='speechbrain_gap') needs the segmentation's input (like=)")
        return self.crop(self.add(first, second), like)


def intra_chunk(module: nn.Module, x: QTensor) -> QTensor:
    """``module`` on each chunk: ``[B, N, K, S]`` as ``[B*S, N, K]`` sequences, and back."""
    b, n, k, s = x.value.shape
    y = module(x.with_value(x.value.permute(0, 3, 1, 2).reshape(-1, n, k)))  # [B*S, N, K]
    return y.with_value(y.value.reshape(b, -1, n, k).permute(0, 2, 3, 1))  # [B, N, K, S]


def inter_chunk(module: nn.Module, x: QTensor) -> QTensor:
    """``module`` across chunks: ``[B, N, K, S]`` as ``[B*K, N, S]`` sequences, and back."""
    b, n, k, s = x.value.shape
    y = module(x.with_value(x.value.permute(0, 2, 1, 3).reshape(-1, n, s)))  # [B*K, N, S]
    return y.with_value(y.value.reshape(b, k, n, -1).permute(0, 2, 1, 3))  # [B, N, K, S]


class RNNPath(nn.Module):
    """``[B', C, L'] -> [B', C, L']``: an LSTM over the ``L'`` axis, an optional activation, then
    Linear(D * hidden -> C) per step as a 1x1 convolution (asteroid's ``SingleRNN`` + ``nn.Linear`` of DPRNN, the
    recurrent feed-forward of DPTNet's improved transformer)."""

    def __init__(self, channels: int, hidden: int, bidirectional: bool, spec: QuantSpec,
                 activation: nn.Module | None = None):
        super().__init__()
        self.rnn = QLSTM(channels, hidden, bidirectional, spec)
        self.act = activation
        self.linear = QConv1d(hidden * (2 if bidirectional else 1), channels, 1, spec=spec)

    def forward(self, x: QTensor) -> QTensor:
        y = self.rnn(x.with_value(x.value.permute(2, 0, 1)))  # time major [L', B', C]
        y = y.with_value(y.value.permute(1, 2, 0))
        return self.linear(self.act(y) if self.act is not None else y)


class DualPath(nn.Module):
    """Intra-chunk then inter-chunk processing of ``[B, N, K, S]``, nothing around them (asteroid's
    ``DualPathProcessing``, DPTNet: its layers normalise themselves)."""

    def __init__(self, intra: nn.Module, inter: nn.Module):
        super().__init__()
        self.intra = intra
        self.inter = inter

    def forward(self, x: QTensor) -> QTensor:
        return inter_chunk(self.inter, intra_chunk(self.intra, x))


class DualPathBlock(nn.Module):
    """Intra-chunk then inter-chunk processing of ``[B, N, K, S]``, each normalised and added to its input."""

    def __init__(self, intra: nn.Module, inter: nn.Module, channels: int, spec: QuantSpec):
        super().__init__()
        self.intra = intra
        self.intra_norm = QGlobalLayerNorm(channels, spec, eps=1e-8)
        self.intra_add = QAdd(spec)
        self.inter = inter
        self.inter_norm = QGlobalLayerNorm(channels, spec, eps=1e-8)
        self.inter_add = QAdd(spec)

    @staticmethod
    def _norm(norm: nn.Module, x: QTensor) -> QTensor:
        """gLN over channels, chunk frames and chunks: ``[B, N, K, S]`` viewed as ``[B, N, K*S]``."""
        b, n, k, s = x.value.shape
        y = norm(x.with_value(x.value.reshape(b, n, -1)))
        return y.with_value(y.value.reshape(b, n, k, s))

    def forward(self, x: QTensor) -> QTensor:
        intra = self.intra_add(self._norm(self.intra_norm, intra_chunk(self.intra, x)), x)
        return self.inter_add(self._norm(self.inter_norm, inter_chunk(self.inter, intra)), intra)
