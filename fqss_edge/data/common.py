"""Shared item handling for the separation datasets: peak normalisation, fixed-length segments, epoch seeding.

Items are ``(mixture [T], sources [n_src, T], utt_id)`` float32 tensors, peak-normalised to ``max|mixture| = 0.9``.

Segments (training): a random crop of ``segment`` samples. Utterances shorter than the segment are
**zero-padded at the end** (not dropped), so that small corpora keep every utterance; SI-SDR over a padded
segment is still well defined because the padded tail is silent in the mixture and in every source.
The crop offset is drawn from ``(seed, epoch, index)`` once ``set_epoch`` was called (deterministic); before
that it is drawn from torch's global generator, which ``DataLoader`` reseeds for every worker and every epoch,
so crops change between epochs and are reproducible given the loader's generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from fqss_edge.audio import peak_gain, read_wav

Item = tuple[torch.Tensor, torch.Tensor, str]


def normalize_peak(mix: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale mixture and sources by the same factor, :func:`peak_gain` of the mixture."""
    g = peak_gain(mix)
    if g == 1.0:
        return mix, sources
    return mix * g, sources * g


def read_mono(path: str | Path, sample_rate: int, resample: bool = False) -> np.ndarray:
    """A file as float32 ``[T]`` at ``sample_rate`` (channels averaged). Another rate is an error naming the file,
    unless ``resample`` (then soxr resamples it)."""
    audio, _ = read_wav(path, resample_to=sample_rate) if resample else read_wav(path, expected_sr=sample_rate)
    return audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]


def segment_samples(segment_seconds: float | None, sample_rate: int) -> int | None:
    if segment_seconds is None:
        return None
    n = int(round(segment_seconds * sample_rate))
    if n <= 0:
        raise ValueError(f"segment_seconds must be positive, got {segment_seconds}")
    return n


class SeparationDataset(Dataset):
    """Base class: subclasses implement ``__len__`` and ``load(index) -> (mix [T], sources [S, T], utt_id)``."""

    def __init__(self, sample_rate: int, n_src: int, segment_seconds: float | None, seed: int) -> None:
        self.sample_rate = sample_rate
        self.n_src = n_src
        self.segment = segment_samples(segment_seconds, sample_rate)
        self.seed = seed
        self.epoch: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make segment crops a deterministic function of ``(seed, epoch, index)``."""
        self.epoch = epoch

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Item:
        mix, sources, utt_id = self.load(index)
        n = min(mix.shape[-1], sources.shape[-1])
        mix, sources = mix[:n], sources[:, :n]
        if self.segment is not None:
            mix, sources = self._crop(index, mix, sources)
        mix, sources = normalize_peak(mix, sources)
        return (torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(sources, dtype=np.float32)), utt_id)

    def _crop(self, index: int, mix: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg, n = self.segment, mix.shape[-1]
        assert seg is not None
        if n < seg:
            pad = seg - n
            return np.pad(mix, (0, pad)), np.pad(sources, ((0, 0), (0, pad)))
        span = n - seg + 1
        if self.epoch is None:
            start = int(torch.randint(span, (1,)).item())
        else:
            start = int(np.random.default_rng([self.seed, self.epoch, index]).integers(span))
        return mix[start:start + seg], sources[:, start:start + seg]
