"""The tensors of a .tflite file as the reference kernels read them, and the integer helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fqss_edge.export.tflite.fixedpoint import mbqm, mbqm_int64, quantize_multiplier


@dataclass
class Tensor:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    axis: int
    data: np.ndarray | None

    @property
    def s(self) -> float:
        return float(self.scale[0])

    @property
    def z(self) -> int:
        return int(self.zero_point[0]) if self.zero_point is not None and self.zero_point.size else 0


def limits(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def qm(m: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier of a real multiplier: (int32 multiplier, shift)."""
    return quantize_multiplier(float(m))


def f32(v: float) -> np.float32:
    return np.float32(v)


def saturate(y: np.ndarray, out: Tensor, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """``y`` (already offset by the output zero point) clamped to the output type (and ``lo``, ``hi``), in that
    type."""
    lo_t, hi_t = limits(out.dtype)
    return np.clip(y, lo_t if lo is None else max(lo_t, lo), hi_t if hi is None else min(hi_t, hi)).astype(out.dtype)


def requant_out(acc: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int, out: Tensor,
                lo: int | None = None, hi: int | None = None, int64: bool = False) -> np.ndarray:
    """MultiplyByQuantizedMultiplier, + output zero point, clamped (to a fused activation's ``lo`` / ``hi`` codes
    too, CalculateActivationRangeQuantized). ``int64``: the int64-accumulator overload (16x8 kernels)."""
    return saturate((mbqm_int64 if int64 else mbqm)(acc, mult, shift) + out.z, out, lo, hi)
