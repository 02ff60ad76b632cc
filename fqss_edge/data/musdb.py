"""MUSDB18-HQ: ``ROOT/{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav``, 44.1 kHz stereo.

Files are ``.wav`` (MUSDB18-HQ) or ``.flac`` (the shipped test fixture). Splits: ``train`` is ``ROOT/train``
without musdb's 14 standard validation tracks (``VALIDATION_TRACKS``, as the ``musdb`` package lists them),
``valid`` is those tracks. A folder that holds none of them (a rendered fixture)
holds out its last ``max(1, n // 8)`` tracks (sorted by name) as ``valid`` instead. ``test`` is ``ROOT/test``.

Items: mixture ``[C, T]`` and sources ``[n_stems * C, T]``, source-major in ``STEMS`` order (drums, bass, other,
vocals; the model's output layout), peak-normalised as every data set here. Training items are random segments
remixed as in the music separation recipes: each stem from a random track at a random offset, a random gain in
[0.25, 1.25], its channels swapped and its sign flipped with probability 1/2 each; the mixture is the sum of the
stems. Evaluation items are whole tracks with their ``mixture.wav``. Files at another rate than 44.1 kHz, with
another channel count than stereo, or a missing stem are refused naming the file; a model at another rate (e.g.
22.05 kHz) gets the audio resampled with soxr.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from fqss_edge.audio import read_wav, resampled
from fqss_edge.data.common import Item, SeparationDataset, normalize_peak
from fqss_edge.errors import FqssError

STEMS = ("drums", "bass", "other", "vocals")
FILES = ("mixture",) + STEMS
RATE = 44100
CHANNELS = 2
GAIN = (0.25, 1.25)
# musdb 0.4.3, musdb/configs/mus.yaml: validation_tracks
VALIDATION_TRACKS = frozenset({
    "Actions - One Minute Smile", "Clara Berry And Wooldog - Waltz For My Victims", "Johnny Lokke - Promises & Lies",
    "Patrick Talbot - A Reason To Leave", "Triviul - Angelsaint", "Alexander Ross - Goodbye Bolero",
    "Fergessen - Nos Palpitants", "Leaf - Summerghost", "Skelpolu - Human Mistakes", "Young Griffo - Pennies",
    "ANiMAL - Rockshow", "James May - On The Line", "Meaxic - Take A Step", "Traffic Experiment - Sirens",
})


EXTENSIONS = (".wav", ".flac")


def track_dirs(folder: Path) -> list[Path]:
    """The track folders (holding a ``mixture.wav`` or ``.flac``) of a split folder, sorted by name."""
    return sorted({p.parent for ext in EXTENSIONS for p in folder.glob(f"*/mixture{ext}")})


def stem_file(track: Path, name: str) -> Path:
    """``track/name.wav``, else ``track/name.flac`` (the .wav path when neither exists: the error names it)."""
    return next((track / f"{name}{ext}" for ext in EXTENSIONS if (track / f"{name}{ext}").is_file()),
                track / f"{name}.wav")


def is_musdb_root(path: Path) -> bool:
    """``path/train`` or ``path/test`` holds track folders."""
    return any(track_dirs(path / s) for s in ("train", "test") if (path / s).is_dir())


def is_musdb_split(path: Path) -> bool:
    return path.is_dir() and bool(track_dirs(path))


def split_tracks(folder: Path, split: str) -> list[Path]:
    """The tracks of ``split`` in ``folder`` (see the module docstring for train / valid)."""
    tracks = track_dirs(folder)
    if split not in ("train", "valid"):
        return tracks
    standard = [t for t in tracks if t.name in VALIDATION_TRACKS]
    held = standard or tracks[len(tracks) - max(1, len(tracks) // 8):]
    if split == "valid":
        return held
    rest = [t for t in tracks if t not in held]
    return rest or tracks  # one track only: it trains and validates


def _check_file(path: Path) -> int:
    """The file's length in samples; ``FqssError`` naming it when missing, unreadable, not 44.1 kHz stereo."""
    if not path.is_file():
        raise FqssError(f"{path}: missing (a MUSDB18-HQ track holds {', '.join(f + '.wav' for f in FILES)})")
    try:
        info = sf.info(str(path))
    except Exception as e:  # noqa: BLE001 (libsndfile's error types vary)
        raise FqssError(f"{path}: not a readable audio file ({' '.join(str(e).split())})") from None
    if info.samplerate != RATE:
        raise FqssError(f"{path}: sample rate {info.samplerate} Hz, MUSDB18-HQ is {RATE} Hz")
    if info.channels != CHANNELS:
        raise FqssError(f"{path}: {info.channels} channel(s), MUSDB18-HQ is stereo")
    return int(info.frames)


class MusdbDataset(SeparationDataset):
    def __init__(self, folder: str | Path, split: str, sample_rate: int, n_src: int = 4,
                 segment_seconds: float | None = None, seed: int = 0) -> None:
        if n_src != len(STEMS):
            raise FqssError(f"{folder}: MUSDB18-HQ has {len(STEMS)} stems ({', '.join(STEMS)}); the model has n_src "
                            f"{n_src}")
        super().__init__(sample_rate, n_src, None, seed)
        self.folder = Path(folder)
        self.split = split
        self.tracks = split_tracks(self.folder, split)
        if not self.tracks:
            raise FqssError(f"{self.folder}: no tracks (<track>/mixture.wav) for split {split!r}")
        self.lengths = []
        for t in self.tracks:
            n = {f: _check_file(stem_file(t, f)) for f in FILES}
            if len(set(n.values())) > 1:
                raise FqssError(f"{t}: stems of different lengths ({', '.join(f'{k} {v}' for k, v in n.items())})")
            self.lengths.append(n["mixture"])
        # segments are drawn at the file rate and resampled: the model's segment length in file samples
        self.train_segment = (None if segment_seconds is None else int(round(segment_seconds * RATE)))

    def __len__(self) -> int:
        """Evaluation: the tracks; training: as many segments as the tracks' duration holds (an epoch sees about
        as much audio as the set has), item k starting from track k mod n."""
        if self.train_segment is None:
            return len(self.tracks)
        return max(sum(self.lengths) // self.train_segment, len(self.tracks))

    def _read(self, path: Path, start: int = 0, frames: int = -1) -> np.ndarray:
        """[C, frames] at the model's rate."""
        if frames < 0 and start == 0:
            return read_wav(path, resample_to=self.sample_rate)[0]
        data, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True, fill_value=0.0)
        return resampled(data.T, RATE, self.sample_rate)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        track = self.tracks[index]
        mix = self._read(stem_file(track, "mixture"))
        sources = np.concatenate([self._read(stem_file(track, s)) for s in STEMS])  # [S * C, T], source-major
        return mix, sources, track.name

    def _remixed(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Stem 0 from track ``index mod n``, every other stem from a random track (see the module docstring)."""
        rng = (np.random.default_rng([self.seed, self.epoch, index]) if self.epoch is not None
               else np.random.default_rng(int(torch.randint(2**31, (1,)).item())))
        seg = self.train_segment
        stems = []
        for s in STEMS:
            k = index % len(self.tracks) if not stems else int(rng.integers(len(self.tracks)))
            start = int(rng.integers(max(self.lengths[k] - seg, 0) + 1))
            x = self._read(stem_file(self.tracks[k], s), start, seg)
            x = x * rng.uniform(*GAIN)
            if rng.random() < 0.5:
                x = x[::-1]
            if rng.random() < 0.5:
                x = -x
            stems.append(x)
        sources = np.concatenate(stems)
        return sources.reshape(len(STEMS), CHANNELS, -1).sum(0), sources

    def __getitem__(self, index: int) -> Item:
        if self.train_segment is None:
            mix, sources, name = self.load(index)
        else:
            (mix, sources), name = self._remixed(index), self.tracks[index % len(self.tracks)].name
        mix, sources = normalize_peak(mix, sources)
        return (torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(sources, dtype=np.float32)), name)
