"""Data-movement layers on quantized tensors: zero padding, slicing and concatenation along one axis.

They hold no quantizer: the output keeps the input's scale and zero point (a zero pad is the zero point's code,
exact), as the runtimes' PAD, STRIDED_SLICE and CONCATENATION do with identical input and output quantization.
The one exception is a concatenation of tensors quantized differently (a U-Net's skip and upsampled features):
TFLite's CONCATENATION needs every input at the output's scale and zero point, so ``QConcat(dim, out_quant=q)``
requantizes each input to ``q`` first (QUANTIZE in the .tflite), which is ``q`` applied to the concatenation
(quantization is element-wise).
The tracer records only views and transposes between layers, so these operations are layers of their own.

``GapPad`` and ``LengthCrop`` (SpeechBrain's dual-path segmentation for any length) pad / crop by amounts that
follow the input length: float and simulation only (their emitter refuses the export, naming the reason).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.quant.qtensor import QTensor


def _same_params(xs: list[QTensor]) -> None:
    a = xs[0]
    for b in xs[1:]:
        if (a.scale is None) != (b.scale is None) or (a.scale is not None and (
                float(a.scale) != float(b.scale) or float(a.zero_point) != float(b.zero_point))):
            raise ValueError("QConcat: the inputs must share one scale and zero point")


class QPad(nn.Module):
    """Zeros before and after the last axis."""

    def __init__(self, before: int, after: int):
        super().__init__()
        if before < 0 or after < 0:
            raise ValueError("QPad: pads must be >= 0")
        self.before, self.after = before, after

    def forward(self, x: QTensor) -> QTensor:
        return x.with_value(F.pad(x.value, (self.before, self.after)))


class QSlice(nn.Module):
    """``x[..., start:stop:step]`` along ``dim`` (``stop`` None: to the end; negative: from the end, any length;
    ``step`` > 1: decimation, e.g. Wave-U-Net's ``x[..., ::2]``)."""

    def __init__(self, dim: int, start: int = 0, stop: int | None = None, step: int = 1):
        super().__init__()
        if step < 1:
            raise ValueError("QSlice: step must be >= 1")
        self.dim, self.start, self.stop, self.step = dim, start, stop, step

    def forward(self, x: QTensor) -> QTensor:
        idx = [slice(None)] * x.value.dim()
        idx[self.dim] = slice(self.start, self.stop, self.step)
        return x.with_value(x.value[tuple(idx)])


class QConcat(nn.Module):
    """Concatenation along ``dim`` of tensors quantized alike, or (``out_quant``) of any tensors, each requantized
    to ``out_quant``."""

    def __init__(self, dim: int, out_quant: nn.Module | None = None):
        super().__init__()
        self.dim = dim
        self.out_quant = out_quant

    def forward(self, *xs: QTensor) -> QTensor:
        if self.out_quant is not None:
            return self.out_quant(torch.cat([x.value for x in xs], dim=self.dim))
        _same_params(list(xs))
        return xs[0].with_value(torch.cat([x.value for x in xs], dim=self.dim))


class GapPad(nn.Module):
    """SpeechBrain's segmentation padding of ``[B, N, L]`` for any ``L``: ``K / 2`` zeros before, ``K / 2 + gap``
    after (``gap = K - (K / 2 + L % K) % K``), so that the padded length is a multiple of ``K / 2`` chunks."""

    def __init__(self, chunk_size: int):
        super().__init__()
        if chunk_size < 2 or chunk_size % 2:
            raise ValueError(f"GapPad: chunk_size must be even and >= 2, not {chunk_size}")
        self.chunk_size, self.hop = chunk_size, chunk_size // 2

    def forward(self, x: QTensor) -> QTensor:
        gap = self.chunk_size - (self.hop + x.value.shape[-1] % self.chunk_size) % self.chunk_size
        return x.with_value(F.pad(x.value, (self.hop, self.hop + gap)))


class LengthCrop(nn.Module):
    """``x[..., :L]`` with ``L`` the length of ``like`` (the overlap-add's output back to the segmented length)."""

    def forward(self, x: QTensor, like: QTensor) -> QTensor:
        return x.with_value(x.value[..., : like.value.shape[-1]])
