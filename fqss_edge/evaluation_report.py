"""``fqss-edge eval`` as a library function: load, score, tabulate."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fqss_edge.data import open_dataset
from fqss_edge.evaluate import UttScore, evaluate, model_separator, scores_as_dicts, summarize
from fqss_edge.models.io import load_model


@dataclass
class EvalReport:
    checkpoint: str
    method: str
    scores: list[UttScore]

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "method": self.method, "mean": summarize(self.scores),
                "utterances": scores_as_dicts(self.scores)}

    def to_json(self) -> str:
        """Strict JSON: an undefined metric (NaN: SDR not computed, a silent reference) is null."""
        return json.dumps(_strict(self.as_dict()), indent=2, allow_nan=False)

    def table(self) -> str:
        """Per-utterance rows and the mean; SDR, STOI and PESQ columns when any utterance has them."""
        m = summarize(self.scores)
        cols = [(k, label) for k, label in COLUMNS if k in m or k in ("si_sdr", "si_sdri")]
        t = Table(title=f"{self.checkpoint} ({self.method})")
        t.add_column("utterance", justify="left")
        for _, label in cols:
            t.add_column(label, justify="right")
        for s in self.scores:
            t.add_row(s.utt_id, *(_cell(getattr(s, k), k) for k, _ in cols))
        t.add_row("[bold]mean[/bold]", *(_cell(m.get(k, float("nan")), k) for k, _ in cols))
        console = Console(record=True, width=100)
        with console.capture() as cap:
            console.print(t)
        return cap.get()


COLUMNS = (("si_sdr", "SI-SDR dB"), ("si_sdri", "SI-SDRi dB"), ("sdr", "SDR dB"), ("stoi", "STOI"),
           ("pesq", "PESQ"))


def _cell(v: float, key: str) -> str:
    return f"{v:.3f}" if key == "stoi" else f"{v:.2f}"


def _strict(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strict(v) for v in obj]
    return obj


def run_evaluation(checkpoint: Path, data: Path, config: Path | None = None, max_utts: int | None = None,
                   with_sdr: bool = True, progress: bool = True, perceptual: bool = False) -> EvalReport:
    """Score ``checkpoint`` on ``data``'s test utterances; ``perceptual``: also STOI and PESQ (NaN where the
    packages are missing, see ``fqss_edge.perceptual``)."""
    cfg = None
    if config is not None:
        from fqss_edge.config import load_config

        cfg = load_config(config)
    loaded = load_model(checkpoint, cfg)
    m = loaded.config.model
    ds = open_dataset(data, "test", m.sample_rate, m.n_src, None, 0)
    n = len(ds) if max_utts is None else min(len(ds), max_utts)
    items = (ds[i] for i in range(n))
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("evaluating", total=n)
        scores = evaluate(model_separator(loaded.model), items, with_sdr, on_item=lambda _: bar.advance(task),
                          sample_rate=m.sample_rate if perceptual else None)
    return EvalReport(str(checkpoint), str(loaded.meta.get("method", "?")), scores)
