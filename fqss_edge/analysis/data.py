"""The utterances an analysis runs on: ``(mixture [T], sources [S, T], utt_id)`` from a test folder."""

from __future__ import annotations

from pathlib import Path

import torch

from fqss_edge.data import open_dataset

Utterance = tuple[torch.Tensor, torch.Tensor, str]


def load_utterances(data: Path, sample_rate: int, n_src: int, max_utterances: int | None) -> list[Utterance]:
    """The test utterances of ``data`` (a folder of wavs or LibriMix), at most ``max_utterances``; read up front
    so that a bad file fails before any work (and before anything is written)."""
    ds = open_dataset(data, "test", sample_rate, n_src, None, 0)
    n = len(ds) if max_utterances is None else min(len(ds), max_utterances)
    return [ds[i] for i in range(n)]


def separate(model: torch.nn.Module, mix: torch.Tensor) -> torch.Tensor:
    """[T] -> [S, T] (no gradient)."""
    with torch.no_grad():
        return model(mix.view(1, -1))[0]
