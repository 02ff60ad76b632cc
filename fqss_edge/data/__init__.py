"""Separation data sets: folder-of-wavs (``mix/ s1/ s2/``), LibriMix metadata CSVs, MUSDB18-HQ
(``<track>/{mixture,drums,bass,other,vocals}.wav``) and dynamic mixing from a speaker corpus (a folder with
``dynamic_mix.json``, training only), detected by ``open_dataset``."""

from __future__ import annotations

from pathlib import Path

from fqss_edge.data.common import Item, SeparationDataset
from fqss_edge.data.dynamic_mix import DynamicMixDataset, is_dynamic_mix
from fqss_edge.data.folder import FolderDataset, is_folder_layout
from fqss_edge.data.librimix import LibriMixDataset, find_metadata, split_names
from fqss_edge.data.musdb import MusdbDataset, is_musdb_root, is_musdb_split
from fqss_edge.errors import FqssError

__all__ = ["DynamicMixDataset", "FolderDataset", "Item", "LibriMixDataset", "MusdbDataset", "SeparationDataset",
           "open_dataset"]


def open_dataset(path_or_dir: str | Path, split: str, sample_rate: int, n_src: int,
                 segment_seconds: float | None, seed: int) -> SeparationDataset:
    """Open ``path_or_dir`` as MUSDB18-HQ (a root with ``train/`` ``test/`` or one of them), a folder of wavs
    (``mix/ s1/ s2/`` in it or in its ``<split>`` sub-folder), a dynamic-mixing folder (``dynamic_mix.json`` in it
    or in its ``<split>`` sub-folder) or as LibriMix (a root, a ``wavXk/<mode>`` folder, a ``metadata`` folder or a
    metadata CSV)."""
    path = Path(path_or_dir)
    if not path.exists():
        raise FqssError(f"{path}: no such data folder")
    if is_musdb_split(path):
        return MusdbDataset(path, split, sample_rate, n_src, segment_seconds, seed)
    if is_musdb_root(path):
        return MusdbDataset(path / ("test" if split == "test" else "train"), split, sample_rate, n_src,
                            segment_seconds, seed)
    if path.is_dir():
        for d in [path] + [path / s for s in dict.fromkeys((split, *split_names(split)))]:
            if is_dynamic_mix(d):
                return DynamicMixDataset(d, sample_rate, n_src, segment_seconds, seed)
            if is_folder_layout(d):
                return FolderDataset(d, sample_rate, n_src, segment_seconds, seed)
    if find_metadata(path, split, sample_rate) is not None:
        return LibriMixDataset(path, split, sample_rate, n_src, segment_seconds, seed)
    raise FqssError(f"{path}: not a recognised data layout (expected mix/ s1/ s2/, LibriMix metadata CSVs or "
                    f"MUSDB18-HQ train/<track>/mixture.wav)")
