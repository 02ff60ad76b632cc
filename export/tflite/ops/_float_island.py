"""One-input int8 functions written as float32 islands that XNNPACK takes: DEQUANTIZE -> float32 ops -> QUANTIZE.

XNNPACK has no int8 RSQRT, and refuses an int8 ADD whose input / output scale ratio is outside [2^-10, 2^8) (the
gLN's ``variance + eps`` when the variance's scale is large); each such operator left to TFLite splits the delegated
graph. The simulation computes these functions in float32 and rounds once (the fake quantizer), so a float island
computes the same codes, provided no input code's value lies near a rounding boundary: ``exact_codes`` checks it
on all 256 int8 input codes at export, in float64.

Where some code lies within the margin, ``island_plan`` looks for a float32 nudge k = 1 +- j 2^-18 (j <= 32)
multiplied in before QUANTIZE: the smallest k for which every code is clear of the margin and every code that was
already clear keeps its code. Only the near-tie codes may move, by one code, where the float32 roundings of the
simulation and of the runtimes could already disagree. Where no such k exists, the int8 operator is written.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import dequantize

# 2^-19 relative, 16 to 32 float32 ulps: measured here, LiteRT's float32 RSQRT is within 1.5 ulps of 1/sqrt with
# XNNPACK and with the reference kernel (2^16 values over 2^-40 .. 2^20); an ADD rounds once, and a QUANTIZE's
# division or product by 1/scale adds about 1
TIE_MARGIN = 2.0 ** -19
NUDGES = tuple(np.float32(1 + sign * j * 2.0 ** -18) for j in range(1, 33) for sign in (1, -1))  # smallest first
# name suffixes of the islands' float32 tensors
ISLAND_TENSORS = ("/float", "/floor", "/clamped", "/rsqrt", "/plus", "/constant", "/nudge", "/nudged")


def exact_codes(f: Callable[[np.ndarray], np.ndarray], s_in: float, z_in: int, s_out: float,
                z_out: int) -> np.ndarray | None:
    """The int8 output code of ``Q(f(DQ(c)))`` for every int8 input code c (index c + 128), ``f`` evaluated in
    float64 on the float32 DEQUANTIZE values (positive results), or None when some code's value lies within
    ``TIE_MARGIN`` (relative) of a rounding boundary."""
    codes, clear = codes_and_margins(f, s_in, z_in, s_out, z_out)
    return codes if np.all(clear) else None


def codes_and_margins(f: Callable[[np.ndarray], np.ndarray], s_in: float, z_in: int, s_out: float,
                      z_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The int8 output code of ``Q(f(DQ(c)))`` for every int8 input code c (float64 rounding, ties up), and
    whether that code is clear of a rounding boundary (farther than ``TIE_MARGIN``, relative, or saturated)."""
    codes = np.arange(-128, 128, dtype=np.float64)
    v = (np.float64(np.float32(s_in)) * (codes - z_in)).astype(np.float32)  # DEQUANTIZE: one float32 rounding
    y = f(v.astype(np.float64)) / np.float64(np.float32(s_out))
    mag = np.maximum(np.abs(y), 1.0)
    saturated = (y + z_out > 127.5 + TIE_MARGIN * mag) | (y + z_out < -128.5 - TIE_MARGIN * mag)
    off_tie = np.abs(y - np.floor(y) - 0.5) > TIE_MARGIN * mag
    return np.clip(np.floor(y + 0.5) + z_out, -128, 127).astype(np.int8), saturated | off_tie


def island_plan(f: Callable[[np.ndarray], np.ndarray], s_in: float, z_in: int, s_out: float,
                z_out: int) -> tuple[np.ndarray, np.float32 | None] | None:
    """(codes, nudge) of ``Q(f(DQ(c)))`` written as a float island: nudge None for the plain island (``exact_codes``
    exact), else the float32 factor k multiplied in before QUANTIZE; None when neither is exact."""
    plain, clear = codes_and_margins(f, s_in, z_in, s_out, z_out)
    if np.all(clear):
        return plain, None
    for k in NUDGES:
        codes, ok = codes_and_margins(lambda v: np.float64(k) * f(v), s_in, z_in, s_out, z_out)
        if np.all(ok) and np.array_equal(codes[clear], plain[clear]):
            return codes, k
    return None


def nudged(ctx, r, name: str, nudge: np.float32 | None):
    """``r`` (a float32 island tensor) times the plan's nudge (a MUL by a one-element constant), or ``r``."""
    if nudge is None:
        return r
    k = ctx.b.const(name + ISLAND_TENSORS[6], np.full((1,) * len(r.shape), nudge, dtype=np.float32))
    out = float_tensor(ctx, r, name, ISLAND_TENSORS[7])
    ctx.b.op(B.MUL, [r, k], [out])
    return out


def island_input(ctx, t, name: str):
    """DEQUANTIZE of the int8 tensor ``t``: the island's float32 input, ``<name>/float``."""
    return dequantize(ctx.b, t, name + ISLAND_TENSORS[0])


def float_tensor(ctx, like, name: str, suffix: str):
    return ctx.b.tensor(name + suffix, like.shape, np.float32, None, like.dynamic)
