"""Build LibriMix-style mixtures from any folder of single-speaker speech ``<speech_dir>/<speaker_id>/*.wav``.

Like LibriMix: each mixture takes one utterance from each of ``n_src`` different speakers, gives each source a
random level drawn uniformly in ``level_db`` (LibriMix: -33..-25 LUFS), truncates all to the shortest ('min'
mode), and scales everything down when a sample would exceed 0.9 (LibriMix's MAX_AMP).
Levels are **RMS dBFS**, not LUFS: pyloudnorm is not a dependency here, and RMS keeps the output identical on
every machine. For 8 kHz speech the two differ by a roughly constant offset, which does not matter for relative
gains. Output: ``<out>/mix/<id>.wav``, ``<out>/s1/<id>.wav``, ... (16-bit PCM) and ``<out>/metadata.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fqss_edge.audio import write_wav
from fqss_edge.data.common import read_mono
from fqss_edge.errors import FqssError
from fqss_edge.fileio import atomic_write

MAX_AMP = 0.9


def list_speakers(speech_dir: str | Path) -> dict[str, list[Path]]:
    """Speaker id -> sorted wav files, for every sub-folder of ``speech_dir`` holding at least one wav."""
    root = Path(speech_dir)
    if not root.is_dir():
        raise FqssError(f"{root}: no such data folder")
    out = {d.name: sorted(d.glob("*.wav")) for d in sorted(root.iterdir()) if d.is_dir()}
    return {k: v for k, v in out.items() if v}


def split_speakers(speakers: list[str], sizes: dict[str, int], seed: int = 0) -> dict[str, list[str]]:
    """Disjoint random speaker subsets, e.g. ``sizes={"train": 10, "valid": 3, "test": 3}``."""
    if sum(sizes.values()) > len(speakers):
        raise FqssError(f"speakers: {sum(sizes.values())} requested, only {len(speakers)} available")
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    out, start = {}, 0
    for name, n in sizes.items():
        out[name] = sorted(order[start:start + n])
        start += n
    return out


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def make_mixtures(speech_dir: str | Path, out_dir: str | Path, n_mixtures: int, n_src: int = 2,
                  sample_rate: int = 8000, seconds: float | None = None, seed: int = 0,
                  speakers: list[str] | None = None, level_db: tuple[float, float] = (-33.0, -25.0),
                  overwrite: bool = False, speaker_weights: Mapping[str, float] | None = None) -> Path:
    """Write ``n_mixtures`` mixtures (see module docstring) and return the path of ``metadata.csv``.

    ``speakers`` restricts the speakers used (for speaker-disjoint splits); ``seconds`` crops each source at a
    random offset to at most that length before the 'min' truncation. ``speaker_weights``: relative odds of
    drawing a speaker (1 for one not named; default: every speaker alike). Same arguments -> same files.
    """
    speech, out = Path(speech_dir), Path(out_dir)
    available = list_speakers(speech)
    names = sorted(speakers) if speakers is not None else sorted(available)
    unknown = [s for s in names if s not in available]
    if unknown:
        raise FqssError(f"{speech}: no speaker folder with wavs for {', '.join(unknown[:5])}")
    if len(names) < n_src:
        raise FqssError(f"{speech}: {len(names)} speaker(s), need at least {n_src} for {n_src}-source mixtures")
    odds = _odds(names, speaker_weights, n_src) if speaker_weights else None
    _prepare_out(out, n_src, overwrite)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_mixtures):
        chosen = [names[j] for j in rng.choice(len(names), n_src, replace=False, p=odds)]
        files = [available[s][rng.integers(len(available[s]))] for s in chosen]
        sigs = [_crop(read_mono(f, sample_rate, resample=True), seconds, sample_rate, rng) for f in files]
        n = min(len(s) for s in sigs)
        targets = rng.uniform(level_db[0], level_db[1], size=n_src)
        gains = [_gain(s[:n], t, f) for s, t, f in zip(sigs, targets, files)]
        srcs = np.stack([s[:n] * g for s, g in zip(sigs, gains)])
        mix = srcs.sum(0)
        peak = max(float(np.abs(mix).max()), float(np.abs(srcs).max()))
        scale = MAX_AMP / peak if peak > MAX_AMP else 1.0
        utt = f"{i:05d}_" + "_".join(chosen)
        write_wav(out / "mix" / f"{utt}.wav", mix * scale, sample_rate)
        for k in range(n_src):
            write_wav(out / f"s{k + 1}" / f"{utt}.wav", srcs[k] * scale, sample_rate)
        rows.append(_row(utt, n, chosen, files, speech, targets, [20 * np.log10(g * scale) for g in gains]))
    return _write_csv(out / "metadata.csv", rows)


def _odds(names: list[str], weights: Mapping[str, float], n_src: int) -> np.ndarray:
    w = np.array([float(weights.get(s, 1.0)) for s in names])
    if not (np.isfinite(w).all() and (w >= 0).all() and (w > 0).sum() >= n_src):
        raise FqssError(f"speaker weights: need finite weights >= 0, at least {n_src} of them > 0 (got "
                        f"{dict(weights)})")
    return w / w.sum()


def _prepare_out(out: Path, n_src: int, overwrite: bool) -> None:
    dirs = [out / "mix"] + [out / f"s{k + 1}" for k in range(n_src)]
    if any(any(d.glob("*.wav")) for d in dirs if d.is_dir()):
        if not overwrite:
            raise FqssError(f"{out}: already holds mixtures (remove it or pass overwrite=True)")
        for d in dirs:
            for f in d.glob("*.wav"):
                f.unlink()
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)


def _crop(x: np.ndarray, seconds: float | None, sr: int, rng: np.random.Generator) -> np.ndarray:
    if seconds is None:
        return x
    n = int(round(seconds * sr))
    start = int(rng.integers(max(len(x) - n, 0) + 1))
    return x[start:start + n]


def _gain(x: np.ndarray, target_db: float, path: Path) -> float:
    level = rms_db(x)
    if level < -90:
        raise FqssError(f"{path}: silent utterance (RMS {level:.0f} dBFS)")
    return float(10 ** ((target_db - level) / 20))


def _row(utt: str, n: int, speakers: list[str], files: list[Path], speech: Path, targets: np.ndarray,
         gains_db: list[float]) -> dict[str, str | int | float]:
    row: dict[str, str | int | float] = {"mixture_ID": utt, "mixture_path": f"mix/{utt}.wav"}
    for k in range(len(speakers)):
        row[f"source_{k + 1}_path"] = f"s{k + 1}/{utt}.wav"
    row["length"] = n
    for k, (spk, f, t, g) in enumerate(zip(speakers, files, targets, gains_db)):
        row[f"source_{k + 1}_speaker"] = spk
        row[f"source_{k + 1}_file"] = f.relative_to(speech).as_posix()
        row[f"source_{k + 1}_level_db"] = round(float(t), 3)
        row[f"source_{k + 1}_gain_db"] = round(float(g), 3)
    return row


def _write_csv(path: Path, rows: list[dict[str, str | int | float]]) -> Path:
    with atomic_write(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["mixture_ID"])
        writer.writeheader()
        writer.writerows(rows)
    return path
