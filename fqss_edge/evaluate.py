"""Evaluation: per-utterance SI-SDR, SI-SDRi (PIT) and SDR of a separation model on a data set, and STOI / PESQ
where their packages are installed (``fqss_edge.perceptual``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from fqss_edge import perceptual
from fqss_edge.metrics import pit_si_sdr, reorder, si_sdr
from fqss_edge.metrics import sdr as bss_sdr

METRICS = ("si_sdr", "si_sdri", "sdr", "stoi", "pesq")


@dataclass
class UttScore:
    utt_id: str
    si_sdr: float
    si_sdri: float
    sdr: float
    stoi: float = math.nan  # perceptual metrics: NaN when not asked for or not available
    pesq: float = math.nan


def score_utterance(est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor, utt_id: str = "",
                    with_sdr: bool = True, sample_rate: int | None = None, pit: bool = True) -> UttScore:
    """est, ref: [S, T] (stereo: [S * C, T], source-major); mix: [T] (or [C, T]). PIT over sources (``pit=False``:
    named sources, paired in order); SDR is BSS-eval SDR of the paired estimates; with a ``sample_rate``, also
    STOI and PESQ of the paired estimates (NaN where unavailable).
    A silent reference source leaves every metric of the utterance undefined (NaN), never an error."""
    est_b, ref_b = est.unsqueeze(0).double(), ref.unsqueeze(0).double()
    if bool((ref_b.abs().amax(-1) == 0).any()):
        return UttScore(utt_id, math.nan, math.nan, math.nan)
    if pit:
        best, perm = pit_si_sdr(est_b, ref_b)
    else:
        perm = torch.arange(ref.shape[0]).unsqueeze(0)
        best = si_sdr(est_b, ref_b).mean(-1)
    si = best[0]
    m = mix.double().reshape(-1, mix.shape[-1])
    si_mix = si_sdr(m.repeat(ref.shape[0] // m.shape[0], 1).unsqueeze(0), ref_b).mean()
    paired = reorder(est_b, perm)[0]
    sdr = float(bss_sdr(paired, ref_b[0]).mean()) if with_sdr else math.nan
    score = UttScore(utt_id, float(si), float(si - si_mix), sdr)
    if sample_rate is not None:
        e, r = paired.numpy(), ref_b[0].numpy()
        score.stoi, score.pesq = perceptual.stoi(e, r, sample_rate), perceptual.pesq(e, r, sample_rate)
    return score


@torch.no_grad()
def evaluate(separate: Callable[[torch.Tensor], torch.Tensor], items: Iterable[tuple[torch.Tensor, torch.Tensor, str]],
             with_sdr: bool = True, on_item: Callable[[UttScore], None] | None = None,
             sample_rate: int | None = None, pit: bool = True) -> list[UttScore]:
    """``separate`` maps a mixture [T] to sources [S, T]; ``sample_rate``: also STOI and PESQ; ``pit=False``: named
    sources, paired in order."""
    scores = []
    for mix, ref, utt_id in items:
        s = score_utterance(separate(mix), ref, mix, utt_id, with_sdr, sample_rate, pit)
        scores.append(s)
        if on_item is not None:
            on_item(s)
    return scores


def summarize(scores: list[UttScore]) -> dict[str, float]:
    if not scores:
        return {"n": 0}
    out: dict[str, float] = {"n": len(scores)}
    for key in METRICS:
        values = [getattr(s, key) for s in scores]
        if not all(np.isnan(values)):
            out[key] = float(np.nanmean(values))
    return out


def scores_as_dicts(scores: list[UttScore]) -> list[dict]:
    return [asdict(s) for s in scores]


def model_separator(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    model.eval()
    return lambda mix: model(mix.unsqueeze(0))[0]  # [T] -> [1, T]; [C, T] -> [1, C, T]
