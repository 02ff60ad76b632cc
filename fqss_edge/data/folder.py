"""Folder-of-wavs layout: ``<dir>/mix/*.wav`` with ``<dir>/s1/*.wav``, ``<dir>/s2/*.wav``, ... of the same names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from fqss_edge.audio import read_wav
from fqss_edge.data.common import SeparationDataset
from fqss_edge.errors import FqssError


def is_folder_layout(path: Path) -> bool:
    return (path / "mix").is_dir() and (path / "s1").is_dir()


class FolderDataset(SeparationDataset):
    """Mixtures in ``mix/`` and sources in ``s1/ .. s{n_src}/``, all at ``sample_rate`` (another rate is an error)."""

    def __init__(self, root: str | Path, sample_rate: int, n_src: int = 2, segment_seconds: float | None = None,
                 seed: int = 0) -> None:
        super().__init__(sample_rate, n_src, segment_seconds, seed)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FqssError(f"{self.root}: no such data folder")
        missing = [d for d in ["mix"] + [f"s{k + 1}" for k in range(n_src)] if not (self.root / d).is_dir()]
        if missing:
            raise FqssError(f"{self.root}: missing sub-folder(s) {', '.join(m + '/' for m in missing)}")
        self.names = sorted(p.name for p in (self.root / "mix").glob("*.wav"))
        if not self.names:
            raise FqssError(f"{self.root / 'mix'}: no .wav files")
        for k in range(n_src):
            lacking = [n for n in self.names if not (self.root / f"s{k + 1}" / n).is_file()]
            if lacking:
                raise FqssError(f"{self.root / f's{k + 1}' / lacking[0]}: no such file "
                                f"({len(lacking)} mixture(s) without source {k + 1})")

        self._check_rates()

    def _check_rates(self) -> None:
        """Fail early, naming the first file whose header says another sample rate (reading it would fail later)."""
        for d in ["mix"] + [f"s{k + 1}" for k in range(self.n_src)]:
            for name in self.names:
                path = self.root / d / name
                try:
                    rate = sf.info(str(path)).samplerate
                except Exception:
                    continue  # unreadable files get their own error when read
                if rate != self.sample_rate:
                    raise FqssError(f"{path}: sample rate {rate} Hz, expected {self.sample_rate} Hz")

    def __len__(self) -> int:
        return len(self.names)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        """The mixture and its sources; a source whose length or channel count differs from the mixture's is an
        error naming it (cutting everything to the shortest would score a truncated reference)."""
        name = self.names[index]
        mix_path = self.root / "mix" / name
        mix, _ = read_wav(mix_path, expected_sr=self.sample_rate)
        srcs = []
        for k in range(self.n_src):
            path = self.root / f"s{k + 1}" / name
            src, _ = read_wav(path, expected_sr=self.sample_rate)
            if src.shape != mix.shape:
                what = "channels" if src.shape[0] != mix.shape[0] else "samples"
                raise FqssError(f"{path}: {src.shape[0]} channel(s) x {src.shape[1]} samples, the mixture {mix_path} "
                                f"has {mix.shape[0]} x {mix.shape[1]} (the {what} differ)")
            srcs.append(src.mean(axis=0))
        return mix.mean(axis=0), np.stack(srcs), Path(name).stem

