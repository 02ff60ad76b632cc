"""Median f0 of each voice folder of a speech corpus: a check that voices differ, not a speaker-identity test.

    python benchmarks/voice_f0.py WORK/corpus

Autocorrelation pitch over 40 ms frames of 8 kHz wavs; a frame counts when its RMS is at least 0.3 x the file's
loudest frame and its autocorrelation peak (60-400 Hz) is at least half its energy. The first 40 utterances of each
folder (speed copies ``*_s0.95`` / ``*_s1.05`` and pitch-copy folders ``*_p±n`` and ``syn_*`` skipped).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR, FRAME = 8000, 320


def frame_f0s(x: np.ndarray) -> list[float]:
    starts = range(0, len(x) - FRAME, FRAME)
    rms = np.array([np.sqrt(np.mean(x[i:i + FRAME] ** 2)) for i in starts])
    out = []
    for k, i in enumerate(starts):
        if rms[k] < 0.3 * rms.max():
            continue
        f = x[i:i + FRAME] - x[i:i + FRAME].mean()
        ac = np.correlate(f, f, "full")[FRAME - 1:]
        lo, hi = SR // 400, SR // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            out.append(SR / lag)
    return out


def main(corpus: Path) -> None:
    for d in sorted(p for p in corpus.iterdir() if p.is_dir()):
        if d.name.startswith("syn_") or d.name[-4:-2] == "_p":
            continue
        files = [f for f in sorted(d.glob("*.wav")) if "_s0." not in f.stem and "_s1." not in f.stem][:40]
        v = np.array([f0 for f in files for f0 in frame_f0s(sf.read(f, dtype="float32")[0])])
        if v.size:
            q25, q50, q75 = np.percentile(v, [25, 50, 75])
            print(f"{d.name:16s} frames {v.size:5d}  f0 median {q50:6.1f} Hz  p25 {q25:6.1f}  p75 {q75:6.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
