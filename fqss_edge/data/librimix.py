"""LibriMix (Libri2Mix / Libri3Mix, ``mix_clean``) read from its generated metadata CSVs.

Layout: ``<root>/wav{8k,16k}/{min,max}/{train-360,train-100,dev,test}/{mix_clean,s1,s2,...}/*.wav`` and
``<root>/wav{8k,16k}/{min,max}/metadata/mixture_{split}_mix_clean.csv`` with columns
``mixture_ID,mixture_path,source_1_path,source_2_path[,source_3_path],length``.

The CSV paths are usually absolute paths of the machine that generated the data. Each column is resolved once,
on the first row, by trying in order: the path as written; the path relative to the LibriMix root; the file name
under ``<split>/<mix_clean|s1|s2..>`` of the CSV's own folder, then of the other sample-rate folders (the
requested rate first). The rule that worked is used for every row. Files at another rate than ``sample_rate``
(e.g. only ``wav16k`` exists) are resampled with soxr when read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fqss_edge.data.common import SeparationDataset, read_mono
from fqss_edge.errors import FqssError

SPLIT_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("train-360", "train-100"), "valid": ("dev",), "val": ("dev",), "dev": ("dev",), "test": ("test",),
}
_CSV_RE = re.compile(r"mixture_(.+)_mix_clean\.csv")
Resolver = Callable[[str], Path]


def split_names(split: str) -> tuple[str, ...]:
    return SPLIT_NAMES.get(split, (split,))


def find_metadata(path: Path, split: str, sample_rate: int) -> Path | None:
    """The ``mixture_{split}_mix_clean.csv`` for ``split`` under a LibriMix root, a ``wavXk/mode`` folder, a
    ``metadata`` folder, or ``path`` itself when it is a CSV file. ``None`` when there is none."""
    if path.is_file():
        return path if path.suffix == ".csv" else None
    rates = _rate_dirs(sample_rate)
    dirs = [path / r / m / "metadata" for r in rates for m in ("min", "max")] + [path / "metadata", path]
    for d in dirs:
        for name in split_names(split):
            f = d / f"mixture_{name}_mix_clean.csv"
            if f.is_file():
                return f
    return None


class LibriMixDataset(SeparationDataset):
    """Items ``(mixture [T], sources [n_src, T], mixture_ID)``; see the module docstring for path resolution."""

    def __init__(self, root_or_csv: str | Path, split: str, sample_rate: int = 8000, n_src: int = 2,
                 segment_seconds: float | None = None, seed: int = 0) -> None:
        super().__init__(sample_rate, n_src, segment_seconds, seed)
        path = Path(root_or_csv)
        if not path.exists():
            raise FqssError(f"{path}: no such data folder")
        csv_path = find_metadata(path, split, sample_rate)
        if csv_path is None:
            raise FqssError(f"{path}: no LibriMix metadata mixture_<split>_mix_clean.csv for split '{split}'")
        self.csv_path = csv_path
        self.rows = _read_rows(csv_path, n_src)
        columns = ["mixture_path"] + [f"source_{k + 1}_path" for k in range(n_src)]
        subdirs = ["mix_clean"] + [f"s{k + 1}" for k in range(n_src)]
        self.resolvers = [self._resolver(col, sub) for col, sub in zip(columns, subdirs)]
        self.columns = columns

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        row = self.rows[index]
        sigs = [read_mono(res(row[col]), self.sample_rate, resample=True) for res, col in zip(self.resolvers, self.columns)]
        n = min(s.shape[0] for s in sigs)
        return sigs[0][:n], np.stack([s[:n] for s in sigs[1:]]), row["mixture_ID"]

    def _resolver(self, column: str, subdir: str) -> Resolver:
        csv_dir = self.csv_path.parent  # <root>/wavXk/<mode>/metadata
        mode_dir = csv_dir.parent if csv_dir.name == "metadata" else csv_dir
        m = _CSV_RE.fullmatch(self.csv_path.name)
        split = m.group(1) if m else ""
        root = mode_dir.parent.parent
        candidates: list[Resolver] = [lambda p: root / p, lambda p: mode_dir / p]  # absolute p: as written
        split_dirs = [mode_dir / split] + [root / r / mode_dir.name / split for r in _rate_dirs(self.sample_rate)]
        for d in dict.fromkeys(split_dirs):
            candidates.append(lambda p, d=d: d / subdir / Path(p.replace("\\", "/")).name)
        first = self.rows[0][column]
        for res in candidates:
            if res(first).is_file():
                return res
        raise FqssError(f"{self.csv_path}: cannot find {column} '{first}' (tried as written, relative to {root}, "
                        f"and by file name under {', '.join(str(d / subdir) for d in dict.fromkeys(split_dirs))})")


def _rate_dirs(sample_rate: int) -> list[str]:
    own = f"wav{sample_rate // 1000}k"
    return [own] + [r for r in ("wav8k", "wav16k") if r != own]


def _read_rows(csv_path: Path, n_src: int) -> list[dict[str, str]]:
    try:
        with open(csv_path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FqssError(f"{csv_path}: cannot read metadata CSV ({e})") from None
    need = ["mixture_ID", "mixture_path"] + [f"source_{k + 1}_path" for k in range(n_src)]
    missing = [c for c in need if c not in fields]
    if missing:
        raise FqssError(f"{csv_path}: missing column(s) {', '.join(missing)} for {n_src} sources")
    if not rows:
        raise FqssError(f"{csv_path}: no mixtures listed")
    return rows
