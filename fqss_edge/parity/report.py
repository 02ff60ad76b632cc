"""``ParityReport``: per runtime and output, the differences to the PyTorch simulation (JSON / Markdown)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class OutputStats:
    output: str
    max_lsb: float
    mean_lsb: float
    pct_exact: float
    pct_within_1lsb: float
    sqnr_db: float  # +inf: identical
    delta_si_sdr_db: float  # PIT SI-SDR of the runtime minus the PyTorch one, vs the ground truth


@dataclass
class LayerStats:
    layer: str  # quantizer module path, e.g. masker.blocks.0.in_conv.out_quant
    max_lsb: float
    mean_lsb: float
    pct_exact: float
    shape_mismatch: bool = False


@dataclass
class RuntimeStats:
    runtime: str
    model: str
    outputs: list[OutputStats]
    overall: OutputStats
    layers: list[LayerStats] | None = None  # --per-layer, in execution order
    first_divergent_layer: str | None = None  # first layer differing by > 1 LSB
    first_different_layer: str | None = None  # first layer differing at all (often a 1-code flip of a statistic)

    @property
    def exact(self) -> bool:
        return self.overall.max_lsb == 0.0


@dataclass
class ParityReport:
    checkpoint: str
    data: str
    n_utts: int
    lsb: float
    reference: str
    reference_si_sdr_db: dict[str, float]
    runtimes: list[RuntimeStats] = field(default_factory=list)
    pairwise_sqnr_db: dict[str, dict[str, float]] = field(default_factory=dict)  # row vs column, all outputs
    provenance: dict[str, str] = field(default_factory=dict)  # model -> was it exported from the checkpoint?
    metric: str = "SI-SDR"  # what delta_si_sdr_db / reference_si_sdr_db hold: "SI-SDR" or "museval SDR"

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @property
    def _metric_name(self) -> str:
        return {"SI-SDR": "SI-SDR (mean over utterances)",
                "museval SDR": "museval SDR (median over 1 s windows, then over tracks)"}.get(self.metric, self.metric)

    def to_markdown(self, per_layer_rows: int = 12) -> str:
        lines = [f"### Parity: `{self.checkpoint}` on `{self.data}` ({self.n_utts} utterances)", "",
                 f"Reference: {self.reference}. LSB = {_lsb(self.lsb)}. PyTorch {self._metric_name}: "
                 + ", ".join(f"{k} {v:.2f} dB" for k, v in self.reference_si_sdr_db.items()), "",
                 *[f"`{Path(m).name}`: {status}." for m, status in self.provenance.items()],
                 *([""] if self.provenance else []),
                 f"| runtime | output | max LSB | mean LSB | exact % | within 1 LSB % | SQNR dB | Δ{self.metric} dB |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        several = len({rt.model for rt in self.runtimes}) > 1
        for rt in self.runtimes:
            label = f"{rt.runtime} `{Path(rt.model).name}`" if several else rt.runtime
            for o in [*rt.outputs, rt.overall]:
                lines.append(f"| {label} | {o.output} | {_num(o.max_lsb)} | {o.mean_lsb:.4f} | {o.pct_exact:.2f} "
                             f"| {o.pct_within_1lsb:.2f} | {_db(o.sqnr_db)} | {o.delta_si_sdr_db:+.3f} |")
        if len(self.pairwise_sqnr_db) > 2:
            names = list(self.pairwise_sqnr_db)
            lines += ["", "SQNR between runtimes (dB, all outputs; row = signal):", "",
                      "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for a in names:
                row = self.pairwise_sqnr_db[a]
                lines.append(f"| {a} | " + " | ".join("" if b == a else _db(row[b]) for b in names) + " |")
        for rt in self.runtimes:
            if rt.layers is None:
                continue
            if not rt.layers:
                lines += ["", f"**{rt.runtime}** (`{Path(rt.model).name}`) per layer: no quantized tensors to compare"]
                continue
            first = f"`{rt.first_divergent_layer}`" if rt.first_divergent_layer else "none (all within 1 LSB)"
            any_diff = f"`{rt.first_different_layer}`" if rt.first_different_layer else "none (bit-exact)"
            lines += ["", f"**{rt.runtime}** (`{Path(rt.model).name}`) per layer: first layer off by more than 1 LSB: "
                          f"{first}; first layer that differs at all: {any_diff}", "",
                      "| layer | max LSB | mean LSB | exact % |", "|---|---:|---:|---:|"]
            shown = _layers_to_show(rt, per_layer_rows)
            for lay in shown:
                note = " (shape differs)" if lay.shape_mismatch else ""
                lines.append(f"| `{lay.layer}`{note} | {_num(lay.max_lsb)} | {lay.mean_lsb:.4f} | {lay.pct_exact:.2f} |")
            if len(shown) < len(rt.layers):
                lines.append(f"| ... {len(rt.layers) - len(shown)} more layers | | | |")
        return "\n".join(lines) + "\n"


def _layers_to_show(rt: RuntimeStats, n: int) -> list[LayerStats]:
    """The first ``n`` layers from the first one that differs (or from the start)."""
    layers = rt.layers or []
    start = next((i for i, lay in enumerate(layers) if lay.layer == rt.first_different_layer), 0)
    return layers[start:start + n]


def _num(v: float) -> str:
    return f"{v:.0f}" if v == round(v) else f"{v:.3g}"


def _db(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.1f}"


def _lsb(v: float) -> str:
    inv = 1.0 / v
    return f"1/{inv:.0f}" if abs(inv - round(inv)) < 1e-6 else f"{v:.6g}"


def _finite(obj: Any) -> Any:
    """JSON has no infinity: +inf SQNR (identical outputs) is written as the string "inf"."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
