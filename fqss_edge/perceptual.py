"""Perceptual speech metrics of separated sources: STOI (``pystoi``) and PESQ (``pesq``, ITU-T P.862).

Both packages are optional (``pip install 'fqss-edge[perceptual]'``; ``pesq`` builds from source and needs a C
compiler): without them the metrics are NaN and ``missing()`` names what to install. PESQ is defined at 8 kHz
(narrow band, P.862) and 16 kHz (wide band, P.862.2) only: at any other rate it is NaN. STOI resamples to
10 kHz itself. Each metric is the mean over sources of estimate ``est[j]`` against reference ``ref[j]``
(already paired, e.g. by PIT).
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np

PESQ_MODES = {8000: "nb", 16000: "wb"}


def missing() -> list[str]:
    """The packages of the perceptual metrics that are not installed."""
    return [p for p in ("pystoi", "pesq") if importlib.util.find_spec(p) is None]


STOI_TOO_SHORT = 1e-5  # what pystoi returns (with a warning) for fewer than 30 speech frames (~0.4 s)


def stoi(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    """Mean STOI (0..1) of ``est[j]`` against ``ref[j]``, ``[S, T]`` arrays; NaN without ``pystoi`` or when a
    reference has too little speech for STOI (under ~0.4 s once silent frames are removed)."""
    if importlib.util.find_spec("pystoi") is None:
        return math.nan
    from pystoi import stoi as _stoi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = [_stoi(r, e, sample_rate, extended=False) for e, r in zip(_f64(est), _f64(ref))]
    return math.nan if any(v == STOI_TOO_SHORT for v in values) else float(np.mean(values))


def pesq(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    """Mean PESQ MOS-LQO of ``est[j]`` against ``ref[j]``: narrow band at 8 kHz, wide band at 16 kHz; NaN at
    other rates, without ``pesq``, or where P.862 finds no utterance in a reference."""
    mode = PESQ_MODES.get(sample_rate)
    if mode is None or importlib.util.find_spec("pesq") is None:
        return math.nan
    from pesq import PesqError
    from pesq import pesq as _pesq

    pairs = list(zip(_f64(est), _f64(ref)))
    if any(not e.any() or not r.any() for e, r in pairs):  # digital silence: P.862 is undefined
        return math.nan
    values = [_pesq(sample_rate, r, e, mode, on_error=PesqError.RETURN_VALUES) for e, r in pairs]
    if any(v < -0.5 for v in values):  # an error code (negative integer), e.g. no utterance detected
        return math.nan
    return float(np.mean(values))


def _f64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(1, -1) if a.ndim == 1 else a
