"""Runtime-vs-reference statistics in output LSBs, SQNR, and PIT SI-SDR against the ground truth."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fqss_edge.errors import FqssError

from fqss_edge.train.losses import best_permutation, reorder, si_sdr_linear


@dataclass
class DiffAccumulator:
    """Running |runtime - reference| statistics of one output over many utterances."""

    lsb: float
    n: int = 0
    max_lsb: float = 0.0
    sum_lsb: float = 0.0
    n_exact: int = 0
    n_within_1: int = 0
    signal: float = 0.0
    noise: float = 0.0

    def add(self, y: np.ndarray, ref: np.ndarray) -> None:
        y64, r64 = np.asarray(y, np.float64), np.asarray(ref, np.float64)
        d = np.abs(y64 - r64) / self.lsb
        self.n += d.size
        if d.size:
            self.max_lsb = max(self.max_lsb, float(d.max()))
        self.sum_lsb += float(d.sum())
        self.n_exact += int(np.count_nonzero(y64 == r64))
        self.n_within_1 += int(np.count_nonzero(d <= 1.0 + 1e-6))
        self.signal += float(np.sum(r64 * r64))
        self.noise += float(np.sum((y64 - r64) ** 2))

    def merge(self, other: "DiffAccumulator") -> "DiffAccumulator":
        out = DiffAccumulator(self.lsb)
        for acc in (self, other):
            out.n += acc.n
            out.max_lsb = max(out.max_lsb, acc.max_lsb)
            out.sum_lsb += acc.sum_lsb
            out.n_exact += acc.n_exact
            out.n_within_1 += acc.n_within_1
            out.signal += acc.signal
            out.noise += acc.noise
        return out

    @property
    def mean_lsb(self) -> float:
        return self.sum_lsb / self.n if self.n else 0.0

    @property
    def pct_exact(self) -> float:
        return 100.0 * self.n_exact / self.n if self.n else 100.0

    @property
    def pct_within_1lsb(self) -> float:
        return 100.0 * self.n_within_1 / self.n if self.n else 100.0

    @property
    def sqnr_db(self) -> float:
        """Reference energy over difference energy; +inf when identical."""
        if self.noise == 0.0:
            return float("inf")
        return 10.0 * float(np.log10(max(self.signal, 1e-30) / self.noise))


def per_source(y: np.ndarray, channels: int) -> np.ndarray:
    """A runtime's output [S * C, T] (source-major) -> [S, C * T]: each source's channels one after the other, so
    that a stereo stem is compared and scored as one signal."""
    return y.reshape(y.shape[0] // channels, -1) if channels > 1 else y


def pit_si_sdr(est: np.ndarray, ref: np.ndarray, pit: bool = True) -> np.ndarray:
    """SI-SDR (dB) per reference source after the best permutation of the estimates (``pit=False``: named
    sources, in order): [S]."""
    e = torch.from_numpy(np.asarray(est, np.float64))[None]
    r = torch.from_numpy(np.asarray(ref, np.float64))[None]
    if pit:
        e = reorder(e, best_permutation(e, r))
    return (10 * torch.log10(si_sdr_linear(e, r)))[0].numpy()


class ParityMetric:
    """How a runtime's output is scored against the ground truth, and how per-utterance scores are aggregated.
    ``si_sdr``: PIT SI-SDR per source (named stems of a stereo model in order), mean over utterances."""

    label = "SI-SDR"

    def __init__(self, contract: Any):
        self.channels = contract.audio_channels
        self.pit = self.channels == 1  # a stereo model's sources are named stems: in order

    def score(self, y: np.ndarray, sources: np.ndarray, utt_id: str) -> np.ndarray:
        return pit_si_sdr(per_source(y, self.channels), per_source(sources, self.channels), self.pit)

    @staticmethod
    def aggregate(scores: np.ndarray) -> np.ndarray:
        """[n_utts, S] -> [S]"""
        return scores.mean(axis=0)

    @staticmethod
    def result(score: Any) -> np.ndarray:
        """A score, or the future of one (``score`` of a metric scoring in worker processes)."""
        return np.asarray(score.result() if hasattr(score, "result") else score, np.float64)

    def close(self) -> None:
        pass


class MusevalMetric(ParityMetric):
    """museval's BSSEval v4 SDR per stem (median over 1 s windows), median over tracks (SiSEC 2018). One
    evaluation costs seconds to minutes (a 4096 x 4096 solve per stem for 4 stereo stems): ``jobs`` > 1 scores in
    that many worker processes while the runtimes go on (``score`` then returns a future, ``result`` waits for
    it). An output bit-identical to one already scored on the same track (the integer runtimes often are) reuses
    that score, which museval would reproduce exactly. Scored at the model's rate, on the signals the runtimes
    compute: a difference between runtimes, where ``eval --metric museval`` scores at the tracks' own rate
    (``fqss_edge.music_report``: at 22.05 kHz BSSEval's SIR / SAR are ill-conditioned; the tiny Wave-U-Net's SDR
    moved by up to 0.3 dB between the two rates)."""

    label = "museval SDR"

    def __init__(self, contract: Any, jobs: int = 1):
        super().__init__(contract)
        self.names, self.rate = list(contract.source_names), contract.sample_rate
        self._seen: dict[tuple[str, str], Any] = {}
        self._pool = None
        if jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))

    def score(self, y: np.ndarray, sources: np.ndarray, utt_id: str) -> Any:
        key = (utt_id, hashlib.sha256(np.ascontiguousarray(y, np.float64).tobytes()).hexdigest())
        if key not in self._seen:
            args = (y, sources, self.names, self.rate, utt_id)
            self._seen[key] = self._pool.submit(museval_sdr, *args) if self._pool else museval_sdr(*args)
        return self._seen[key]

    @staticmethod
    def aggregate(scores: np.ndarray) -> np.ndarray:
        return np.nanmedian(scores, axis=0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


def museval_sdr(y: np.ndarray, sources: np.ndarray, names: list[str], rate: int, track: str) -> np.ndarray:
    """museval SDR per stem of one track (median over its 1 s windows)."""
    from fqss_edge.music_metrics import score_track, track_medians

    medians = track_medians(score_track(y, sources, names, rate, track))
    return np.array([medians[n]["SDR"] for n in names])


METRICS = {"si_sdr": ParityMetric, "museval": MusevalMetric}


def parity_metric(name: str, contract: Any, jobs: int = 1) -> ParityMetric:
    if name not in METRICS:
        raise FqssError(f"unknown parity metric {name!r} (one of {', '.join(METRICS)})")
    return MusevalMetric(contract, jobs) if name == "museval" else METRICS[name](contract)
