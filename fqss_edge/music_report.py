"""``fqss-edge eval --metric museval``: a checkpoint's stems on a MUSDB18-HQ-layout set, scored with museval
(``fqss_edge.music_metrics``): per-track JSON as museval writes it, and the table of medians.

Scores are taken at the tracks' own rate (44.1 kHz), as SiSEC and the papers do: a model at another rate (the
Wave-U-Nets' 22.05 kHz) separates the mixture resampled to its rate, and its stems are resampled back (soxr HQ)
before they are scored against the original stems. Scored at 22.05 kHz against resampled stems, which hold nothing
above 11 kHz, BSSEval's projections onto the 512-tap shifted references are ill-conditioned: on the tiny Wave-U-Net
SIR came out at -20 to -49 dB and SAR at 0.00 dB for estimates 3-7 dB SDR from their stems (SDR itself moved by up
to 0.3 dB)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from fqss_edge.audio import resampled
from fqss_edge.data import open_dataset
from fqss_edge.data.musdb import RATE as MUSDB_RATE
from fqss_edge.data.musdb import is_musdb_root, is_musdb_split
from fqss_edge.errors import FqssError
from fqss_edge.evaluate import model_separator
from fqss_edge.evaluation_report import _strict
from fqss_edge.models.io import load_model
from fqss_edge.music_metrics import (
    METRICS,
    median_over_tracks,
    score_track,
    track_medians,
    write_track_json,
)


@dataclass
class MusevalReport:
    checkpoint: str
    method: str
    sample_rate: int  # the rate the stems are scored at (the tracks' own)
    model_sample_rate: int
    tracks: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # track -> stem -> metric
    json_files: list[str] = field(default_factory=list)

    @property
    def median(self) -> dict[str, dict[str, float]]:
        return median_over_tracks(list(self.tracks.values()))

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "method": self.method, "metric": "museval BSSEval v4",
                "aggregation": "median over 1 s windows, then median over tracks", "sample_rate": self.sample_rate,
                "model_sample_rate": self.model_sample_rate, "median": self.median, "tracks": self.tracks,
                "json_files": self.json_files}

    def to_json(self) -> str:
        return json.dumps(_strict(self.as_dict()), indent=2, allow_nan=False)

    def table(self) -> str:
        t = Table(title=f"{self.checkpoint} ({self.method})",
                  caption=f"museval BSSEval v4 (dB) at {self.sample_rate} Hz, {len(self.tracks)} track(s): median "
                          f"over 1 s windows, then over tracks")
        t.add_column("stem", justify="left")
        for m in METRICS:
            t.add_column(m, justify="right")
        for stem, scores in self.median.items():
            t.add_row(stem, *(f"{scores[m]:.2f}" for m in METRICS))
        console = Console(record=True, width=100)
        with console.capture() as cap:
            console.print(t)
        return cap.get()


def run_museval(checkpoint: Path, data: Path, config: Path | None = None, max_tracks: int | None = None,
                json_dir: Path | None = None) -> MusevalReport:
    """Separate every test track of ``data`` with the checkpoint (PyTorch; the whole track in one call) and score
    it with museval at the tracks' own rate (see the module docstring); ``json_dir``: write ``<track>.json`` per
    track (museval's format)."""
    cfg = None
    if config is not None:
        from fqss_edge.config import load_config

        cfg = load_config(config)
    loaded = load_model(checkpoint, cfg)
    m = loaded.config.model
    names = list(m.source_names) or [f"s{k + 1}" for k in range(m.n_src)]
    # the tracks' own rate for MUSDB18-HQ (open_dataset's test for that layout), else the model's
    rate = MUSDB_RATE if is_musdb_split(Path(data)) or is_musdb_root(Path(data)) else m.sample_rate
    ds = open_dataset(data, "test", rate, m.n_src, None, 0)
    if m.audio_channels == 1 and ds[0][0].dim() != 1:
        raise FqssError(f"{data}: stereo tracks, the model is mono")
    separate = model_separator(loaded.model)
    report = MusevalReport(str(checkpoint), str(loaded.meta.get("method", "?")), rate, m.sample_rate)
    n = len(ds) if max_tracks is None else min(len(ds), max_tracks)
    for i in range(n):
        mix, ref, track = ds[i]
        with torch.no_grad():
            est = separate(torch.from_numpy(resampled(mix.numpy(), rate, m.sample_rate))).numpy()
        est = resampled(est, m.sample_rate, rate, ref.shape[-1])
        store = score_track(est, ref.numpy(), names, rate, track)
        report.tracks[track] = track_medians(store)
        if json_dir is not None:
            report.json_files.append(str(write_track_json(store, json_dir)))
    return report

