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
        t = Table(title=f"{self.checkpoint} ({self.method})")
        for col in ("utterance", "SI-SDR dB", "SI-SDRi dB", "SDR dB"):
            t.add_column(col, justify="left" if col == "utterance" else "right")
        for s in self.scores:
            t.add_row(s.utt_id, f"{s.si_sdr:.2f}", f"{s.si_sdri:.2f}", f"{s.sdr:.2f}")
        m = summarize(self.scores)
        t.add_row("[bold]mean[/bold]", f"{m.get('si_sdr', float('nan')):.2f}", f"{m.get('si_sdri', float('nan')):.2f}",
                  f"{m.get('sdr', float('nan')):.2f}")
        console = Console(record=True, width=100)
        with console.capture() as cap:
            console.print(t)
        return cap.get()


def _strict(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strict(v) for v in obj]
    return obj


def run_evaluation(checkpoint: Path, data: Path, config: Path | None = None, max_utts: int | None = None,
                   with_sdr: bool = True, progress: bool = True) -> EvalReport:
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
        scores = evaluate(model_separator(loaded.model), items, with_sdr, on_item=lambda _: bar.advance(task))
    return EvalReport(str(checkpoint), str(loaded.meta.get("method", "?")), scores)
