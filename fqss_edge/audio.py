"""WAV input/output: soundfile for I/O, soxr for resampling, atomic writes, user errors as ``FqssError``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from fqss_edge.errors import FqssError
from fqss_edge.fileio import atomic_write

PathLike = str | os.PathLike[str]
_PCM_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


# The input level (``peak_gain``) lives here, numpy only: the runtimes use it without importing torch.
PEAK = 1.0 - 2.0**-15
# FQSS normalises the input waveform to full scale: the model's 8-bit input byte and output byte then use their
# whole range (quiet LibriMix-level mixtures, -25..-33 dB RMS, otherwise use a tenth of the codes).
PEAK_TARGET: float | None = 0.9
MIN_PEAK = 1e-4  # near-silent items are left alone rather than amplifying their noise


def peak_gain(mix: np.ndarray) -> float:
    """The factor that brings ``max|mix|`` to ``PEAK_TARGET`` (the level the models were trained at).

    1.0 for a near-silent input (peak below ``MIN_PEAK``: its noise is not amplified); with ``PEAK_TARGET = None``
    a mixture is only scaled down when its peak exceeds ``1 - 2**-15``."""
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if PEAK_TARGET is None:
        return PEAK / peak if peak > PEAK else 1.0
    return min(PEAK_TARGET, PEAK) / peak if peak >= MIN_PEAK else 1.0


def read_wav(path: PathLike, expected_sr: int | None = None,
             resample_to: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 ``[channels, samples]`` in [-1, 1] and its sample rate.

    ``expected_sr`` without ``resample_to``: a different rate is an error. ``resample_to``: the audio is resampled
    with soxr (high quality) to that rate, and the returned rate is ``resample_to``.
    Raises ``FqssError`` naming the file when it is missing, unreadable, empty or holds NaN/Inf.
    """
    p = Path(path)
    if not p.is_file():
        raise FqssError(f"{p}: no such file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise FqssError(f"{p}: not a readable audio file ({_one_line(e)})") from None
    if data.size == 0:
        raise FqssError(f"{p}: empty audio file (no samples)")
    if not np.isfinite(data).all():
        raise FqssError(f"{p}: audio contains NaN or Inf samples")
    if resample_to is not None:
        if sr != resample_to:
            data = soxr.resample(data, sr, resample_to, quality="HQ").astype(np.float32, copy=False)
            sr = resample_to
    elif expected_sr is not None and sr != expected_sr:
        raise FqssError(f"{p}: sample rate {sr} Hz, expected {expected_sr} Hz")
    return np.ascontiguousarray(data.T), int(sr)


def resampled(x: np.ndarray, rate: int, to: int, length: int | None = None) -> np.ndarray:
    """``x`` ([..., T]) from ``rate`` to ``to`` with soxr HQ, as float32, then cut or zero-padded to ``length``
    samples when given."""
    if rate != to:
        flat = x.reshape(-1, x.shape[-1])
        x = soxr.resample(flat.T, rate, to, quality="HQ").T.reshape(*x.shape[:-1], -1)
    if length is not None:
        x = x[..., :length]
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])
    return np.ascontiguousarray(x, dtype=np.float32)


def write_wav(path: PathLike, audio: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` ([C, T] or [T], float) atomically: a temp file in the same folder, then ``os.replace``.

    Values are clipped to [-1, 1) before integer encoding, so loud samples saturate instead of wrapping around.
    """
    p = Path(path)
    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise FqssError(f"{p}: audio to write must be [channels, samples] or [samples], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise FqssError(f"{p}: refusing to write NaN or Inf samples")
    bits = _PCM_BITS.get(subtype.upper())
    if bits is not None:
        a = np.clip(a, -1.0, 1.0 - 2.0 ** (1 - bits))
    with atomic_write(p) as tmp:
        sf.write(tmp, a.T, int(sr), subtype=subtype, format="WAV")
    return p


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
