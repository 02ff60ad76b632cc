"""Waveform + spectrogram PNGs for the summary page (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

MAX_SPECTROGRAM_SECONDS = 60.0  # longer files: the spectrogram shows the first minute (the waveform shows all)
ENVELOPE_BINS = 2000


def read_mono(path: str | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int, int]:
    """(mono float32 samples, sample rate, total frames); at most ``max_seconds`` are read."""
    info = sf.info(str(path))
    frames = info.frames if max_seconds is None else min(info.frames, int(max_seconds * info.samplerate))
    data, sr = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    return data.mean(axis=1), int(sr), int(info.frames)


def envelope(path: str | Path, bins: int = ENVELOPE_BINS) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-bin (min, max) of the mono signal over the whole file, read in blocks (any length)."""
    info = sf.info(str(path))
    per_bin = max(1, -(-info.frames // bins))
    lo, hi = [], []
    for block in sf.blocks(str(path), blocksize=per_bin * 256, dtype="float32", always_2d=True):
        mono = block.mean(axis=1)
        pad = (-mono.size) % per_bin
        m = np.pad(mono, (0, pad), mode="edge").reshape(-1, per_bin)
        lo.append(m.min(axis=1))
        hi.append(m.max(axis=1))
    return np.concatenate(lo), np.concatenate(hi), per_bin, int(info.samplerate)


def waveform_spectrogram_png(wav: str | Path, png: str | Path, title: str) -> Path:
    """A 2-panel PNG: the waveform envelope of the whole file and the spectrogram (first minute at most)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi, per_bin, sr = envelope(wav)
    x, _, frames = read_mono(wav, MAX_SPECTROGRAM_SECONDS)
    fig, (ax_w, ax_s) = plt.subplots(2, 1, figsize=(7.0, 3.4), dpi=90, sharex=False,
                                     gridspec_kw={"height_ratios": [1, 1.6]})
    t = np.arange(lo.size) * per_bin / sr
    ax_w.fill_between(t, lo, hi, color="#3465a4", linewidth=0.5)
    ax_w.set_xlim(0, max(frames / sr, 1e-3))
    ax_w.set_ylim(-1, 1)
    ax_w.set_title(title, fontsize=9)
    ax_w.tick_params(labelsize=7)
    nfft = 512 if sr > 16000 else 256
    if x.size >= nfft:
        with np.errstate(divide="ignore"):  # digital silence: empty bins are -inf dB, drawn at vmin
            ax_s.specgram(x + 1e-9, NFFT=nfft, Fs=sr, noverlap=nfft // 2, cmap="magma", vmin=-120)
    ax_s.set_xlabel("time (s)" + (f", first {MAX_SPECTROGRAM_SECONDS:.0f} s" if frames / sr >
                                  MAX_SPECTROGRAM_SECONDS else ""), fontsize=7)
    ax_s.set_ylabel("Hz", fontsize=7)
    ax_s.tick_params(labelsize=7)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return png
