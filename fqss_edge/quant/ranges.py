"""Integer ranges of the runtimes (TFLite / onnxruntime) for each bit width."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntRange:
    qmin: int
    qmax: int

    @property
    def levels(self) -> int:
        return self.qmax - self.qmin


def activation_range(bits: int) -> IntRange:
    """Activations: int8 asymmetric [-128, 127]; int16 symmetric [-32767, 32767] with zero point 0
    (TFLite's 16x8 mode requires zero point 0 for int16 activations)."""
    if bits == 8:
        return IntRange(-128, 127)
    if bits == 16:
        return IntRange(-32767, 32767)
    raise ValueError(f"unsupported activation bit width {bits} (8 or 16)")


def weight_range(bits: int) -> IntRange:
    """Weights: symmetric, zero point 0, the most negative code unused (TFLite: int8 weights in [-127, 127])."""
    if bits not in (4, 8, 16):
        raise ValueError(f"unsupported weight bit width {bits} (4, 8 or 16)")
    q = 2 ** (bits - 1) - 1
    return IntRange(-q, q)


INT32 = IntRange(-(2**31), 2**31 - 1)
