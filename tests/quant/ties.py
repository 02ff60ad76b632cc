"""int16 codes with exact and near ties in their time means, and the exact half-even mean (tests of the
gLN's ``q_var_time`` in the simulation and the onnxruntime flavour)."""

from __future__ import annotations

import numpy as np


def half_even_mean(codes: np.ndarray) -> np.ndarray:
    """round(sum over the last axis / T), half to even, in integers (keepdims)."""
    t = codes.shape[-1]
    total = codes.astype(np.int64).sum(axis=-1, keepdims=True)
    k, r = np.divmod(total, t)  # floor division: 0 <= r < t
    return k + ((2 * r > t) | ((2 * r == t) & (k % 2 == 1)))


def tie_codes(c: int, t: int, seed: int) -> np.ndarray:
    """int16 codes ``[1, c, t]`` (positive and negative) whose time sums are exact ties (k + 1/2) in half the
    channels when ``t`` is even, near ties (k + 1/2 -+ 1/t) in the rest."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-30000, 30000, size=(1, c, t))
    for ch in range(c):
        want = t // 2 + (0 if ch % 2 == 0 else (-1) ** ch)
        codes[0, ch, -1] -= (codes[0, ch].sum() - want) % t
    return codes

