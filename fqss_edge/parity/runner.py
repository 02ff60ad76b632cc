"""``run_parity``: the same mixtures through the PyTorch simulation and each exported model's runtimes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.fingerprint import FINGERPRINT_KEY
from fqss_edge.parity.metrics import DiffAccumulator, ParityMetric, parity_metric, per_source
from fqss_edge.parity.per_layer import LayerDiffs
from fqss_edge.parity.report import OutputStats, ParityReport, RuntimeStats
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.base import Backend, SupportsIntermediates, run_in_windows
from fqss_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend
from fqss_edge.runtimes.torch_backend import TorchBackend

# The runtimes each model file runs in: onnxruntime without and with its integer kernels; LiteRT's reference
# kernels and XNNPACK.
VARIANTS: dict[str, tuple[dict[str, Any], ...]] = {
    ".onnx": ({"optimization": "off"}, {"optimization": "all"}),
    ".tflite": ({"kernels": "ref"}, {"kernels": "builtin"}, {"kernels": "xnnpack"}),
}


@dataclass
class _Tracked:
    backend: Backend
    model: str
    outputs: list[DiffAccumulator]
    scores: list[Any] = field(default_factory=list)  # per utterance: this runtime's score per source (or a future)
    compared: list[Any] = field(default_factory=list)  # ... and the simulation's it is compared with
    layers: LayerDiffs | None = None


def runtimes_for(path: str | Path, reference: TorchBackend, threads: int = 1) -> list[Backend]:
    """The backends ``path`` runs in (``VARIANTS``; the suffix's default backend for other files)."""
    p = Path(path)
    suffix = p.suffix.lower()
    extra: dict[str, Any] = {"require_qdq": bool(reference.quantized)} if suffix == ".onnx" else {}
    return [open_backend(p, threads=threads, **opts, **extra) for opts in VARIANTS.get(suffix, ({},))]


def _has_intermediates(backend: Backend) -> bool:
    """Per-layer codes: the backend has ``intermediates`` and, for its kernels, they are available (LiteRT's
    XNNPACK keeps its tensors inside the delegate)."""
    return isinstance(backend, SupportsIntermediates) and bool(getattr(backend, "intermediates_available", True))


def _check_compatible(backend: Backend, model: str, reference: TorchBackend) -> None:
    a, b = backend.io_contract, reference.io_contract
    for key in ("n_src", "stride", "kernel_size", "sample_rate", "audio_channels"):
        if getattr(a, key) != getattr(b, key):
            raise FqssError(f"{model}: {key}={getattr(a, key)} but the checkpoint has {key}={getattr(b, key)} "
                            f"(exported from another model?)")
    if isinstance(backend, OnnxRuntimeBackend) and backend.quantized and not reference.quantized:
        raise FqssError(f"{model}: an int8 QDQ model, but the checkpoint is a float model")


def fingerprint_check(backend: Backend, model: str, reference: TorchBackend) -> str:
    """Was ``model`` exported from the reference checkpoint? An error if its metadata names another one: every
    figure of the run would compare two different networks (an SQNR of a few dB that reads like an export bug).
    Exports written before fingerprints cannot be checked: said so in the report, and run."""
    stored = getattr(backend, "proto", None)
    if stored is not None:
        stored = {p.key: p.value for p in stored.metadata_props}.get(FINGERPRINT_KEY)
    else:
        stored = (getattr(backend, "meta", {}).get("onnx_metadata") or {}).get(FINGERPRINT_KEY)
    expected = getattr(reference, "fingerprint", "")
    if not stored or not expected:
        return "no fingerprint (exported before fingerprints): not checked"
    if stored != expected:
        raise FqssError(f"{model}: exported from another checkpoint than {getattr(reference, 'path', '')} (fingerprint "
                        f"{stored[:12]}, the checkpoint's {expected[:12]}); export it again or pass its checkpoint")
    return "exported from this checkpoint (fingerprint matches)"


class PairwiseSqnr:
    """SQNR (dB) between every pair of runtimes' outputs: 10 log10(sum a^2 / sum (a - b)^2), row a, column b."""

    def __init__(self, names: list[str]):
        self.names = names
        k = len(names)
        self.energy = np.zeros(k)
        self.err = np.zeros((k, k))

    def add(self, outs: list[np.ndarray]) -> None:
        ys = [np.asarray(y, np.float64).ravel() for y in outs]
        for i, a in enumerate(ys):
            self.energy[i] += float(a @ a)
            for j in range(i + 1, len(ys)):
                d = a - ys[j]
                self.err[i, j] = self.err[j, i] = self.err[i, j] + float(d @ d)

    def matrix(self) -> dict[str, dict[str, float]]:
        def db(e: float, n: float) -> float:
            return float("inf") if n == 0 else float(10 * np.log10(max(e, 1e-300) / n))

        return {a: {b: db(self.energy[i], self.err[i, j]) for j, b in enumerate(self.names) if j != i}
                for i, a in enumerate(self.names)}


def _output_stats(name: str, acc: DiffAccumulator, delta: float) -> OutputStats:
    return OutputStats(name, acc.max_lsb, acc.mean_lsb, acc.pct_exact, acc.pct_within_1lsb, acc.sqnr_db, delta)


def _summarize(t: _Tracked, names: tuple[str, ...], metric: "ParityMetric") -> RuntimeStats:
    """Per source: the metric's aggregate over utterances (mean SI-SDR; museval: median over tracks) of this
    runtime minus the simulation's; overall: the mean of those over sources."""
    scores = np.asarray([metric.result(x) for x in t.scores], np.float64).reshape(-1, len(names))
    compared = np.asarray([metric.result(x) for x in t.compared], np.float64).reshape(-1, len(names))
    delta = (metric.aggregate(scores) - metric.aggregate(compared)) if scores.size else np.zeros(len(names))
    outputs = [_output_stats(n, a, float(d)) for n, a, d in zip(names, t.outputs, delta)]
    total = t.outputs[0]
    for a in t.outputs[1:]:
        total = total.merge(a)
    overall = _output_stats("all", total, float(delta.mean()))
    layers, first, first_any = t.layers.stats() if t.layers is not None else (None, None, None)
    return RuntimeStats(t.backend.name, t.model, outputs, overall, layers, first, first_any)


def run_parity(ckpt_path: str | Path, model_paths: list[str | Path], data_dir: str | Path,
               max_utts: int | None = None, per_layer: bool = False, config: Any = None,
               threads: int = 1, on_utt: Callable[[str], None] | None = None,
               metric: str = "si_sdr", metric_jobs: int = 1) -> ParityReport:
    """Run the data set's mixtures through the PyTorch simulation of ``ckpt_path`` and the runtimes of every
    model in ``model_paths``; report differences in output LSBs, SQNR and the metric's difference (``metric``:
    ``si_sdr``, mean SI-SDR over utterances; ``museval``, BSSEval v4 SDR, median over 1 s windows then over
    tracks; ``metric_jobs`` worker processes score it; see ``ParityReport``)."""
    from fqss_edge.data import open_dataset

    reference = TorchBackend(config=config, threads=threads).load(ckpt_path)
    contract = reference.io_contract
    tracked = []
    provenance: dict[str, str] = {}
    for path in model_paths:
        for backend in runtimes_for(path, reference, threads):
            _check_compatible(backend, str(path), reference)
            provenance[str(path)] = fingerprint_check(backend, str(path), reference)
            fixed = backend.io_contract.fixed_length  # its windows hold no whole mixture: no per-layer codes
            layers = LayerDiffs() if per_layer and _has_intermediates(backend) and not fixed else None
            accs = [DiffAccumulator(contract.output_lsb) for _ in range(contract.n_src)]
            tracked.append(_Tracked(backend, str(path), accs, layers=layers))
    ds = open_dataset(data_dir, "test", contract.sample_rate, contract.n_src, None, 0)
    n = len(ds) if max_utts is None else min(max_utts, len(ds))
    ref_si = []
    pairs = PairwiseSqnr(["pytorch"] + [f"{t.backend.name} {Path(t.model).name}" for t in tracked])
    channels = contract.audio_channels
    scorer = parity_metric(metric, contract, metric_jobs)

    def score(y: np.ndarray) -> np.ndarray:
        return scorer.score(y, sources, utt_id)

    for i in range(n):
        mix_t, sources_t, utt_id = ds[i]
        mix, sources = mix_t.numpy(), sources_t.numpy()
        y_ref = reference.run(mix)
        si_ref = score(y_ref)
        ref_si.append(si_ref)
        ref_layers = reference.intermediates(mix) if per_layer else None
        # a fixed-length model runs the mixture in windows of its length: compared with the simulation run on
        # the same windows
        windowed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        outs = [y_ref]
        for t in tracked:
            fixed = t.backend.io_contract.fixed_length
            if fixed and fixed not in windowed:
                y_w = run_in_windows(reference.run, mix, fixed)
                windowed[fixed] = (y_w, score(y_w))
            y_cmp, si_cmp = windowed[fixed] if fixed else (y_ref, si_ref)
            y = t.backend.run(mix)
            outs.append(y)
            for s, acc in enumerate(t.outputs):
                acc.add(per_source(y, channels)[s], per_source(y_cmp, channels)[s])
            t.scores.append(score(y))
            t.compared.append(si_cmp)
            if t.layers is not None and ref_layers is not None:
                t.layers.add(ref_layers, t.backend.intermediates(mix))  # type: ignore[attr-defined]
        pairs.add(outs)
        if on_utt is not None:
            on_utt(utt_id)
    if n == 0:
        raise FqssError(f"{data_dir}: no utterances to compare")
    ref_agg = scorer.aggregate(np.asarray([scorer.result(x) for x in ref_si], np.float64))
    summaries = [_summarize(t, contract.source_names, scorer) for t in tracked]
    scorer.close()
    return ParityReport(str(ckpt_path), str(data_dir), n, contract.output_lsb, reference.name,
                        {k: float(v) for k, v in zip(contract.source_names, ref_agg)},
                        summaries, pairs.matrix(), provenance,
                        metric=scorer.label)
