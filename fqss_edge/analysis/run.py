"""``fqss-edge analyze`` as a library function: every measure on a checkpoint and a test folder, as one dict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fqss_edge.analysis.ceiling import BITS, model_ceiling
from fqss_edge.analysis.data import load_utterances
from fqss_edge.analysis.plan import LayerCost, choose_plan, total_cost
from fqss_edge.analysis.sensitivity import hessian_traces, layer_alone
from fqss_edge.analysis.sqnr import tensor_sqnr
from fqss_edge.analysis.switches import act_bits_apply, analysis_layers, quantized_only
from fqss_edge.errors import FqssError
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.io import load_model
from fqss_edge.runtimes.torch_backend import torch_threads
from fqss_edge.train.losses import separation_loss


@dataclass(frozen=True)
class AnalysisOptions:
    max_utterances: int | None = None
    hessian_samples: int = 8
    hessian_seconds: float = 1.0
    budget: float | None = None  # a plan within budget x uniform int8's cost
    bits: tuple[int, ...] = BITS
    threads: int | None = 1  # torch threads: the tensors are small (one thread: 4-20x faster on a busy 2-core CPU)


def activation_per_ms(model: SeparationModel, mix: torch.Tensor) -> dict[str, float]:
    """Output elements per millisecond of audio of every analysis layer (float twin, one mixture)."""
    counts: dict[str, int] = {}
    layers = analysis_layers(model)

    def hook(name: str):  # noqa: ANN202
        def fn(_m, _inp, out) -> None:  # noqa: ANN001  (returns None: the output is left as it is)
            counts.setdefault(name, out.value.numel())
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    try:
        with quantized_only(model, []), torch.no_grad():
            model(mix.view(1, -1))
    finally:
        for h in handles:
            h.remove()
    ms = mix.shape[-1] / (model.config.sample_rate / 1000)
    return {n: counts.get(n, 0) / ms for n, _ in layers}


def run_analysis(checkpoint: Path, data: Path, opts: AnalysisOptions = AnalysisOptions(),
                 progress: bool = True) -> dict:
    """The report's numbers: ``sensitivity``, ``sqnr``, ``kl``, ``hessian``, ``ceiling`` (+ ``plan``)."""
    with torch_threads(opts.threads):
        return _run(checkpoint, data, opts, progress)


def _run(checkpoint: Path, data: Path, opts: AnalysisOptions, progress: bool) -> dict:
    loaded = load_model(checkpoint)
    if not loaded.quantized:
        raise FqssError(f"{checkpoint}: a float checkpoint (quant.enabled false): analyze needs a quantized one")
    model, cfg = loaded.model, loaded.config
    utts = load_utterances(data, cfg.model.sample_rate, cfg.model.n_src, opts.max_utterances)
    layers = analysis_layers(model)
    n = len(utts)
    passes = 1 + (2 if opts.budget is not None else 0)
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*cols, disable=not progress, transient=True) as bar:
        t_sqnr = bar.add_task("SQNR along the network", total=n)
        t_alone = bar.add_task("layers alone quantized", total=passes * len(layers))
        t_hess = bar.add_task("Hessian traces", total=n * opts.hessian_samples)
        t_ceil = bar.add_task("SDR ceiling", total=n * len(opts.bits))
        sqnr = tensor_sqnr(model, utts, on_utterance=lambda: bar.advance(t_sqnr))
        step = lambda _name: bar.advance(t_alone)  # noqa: E731
        alone, float_si_sdr = layer_alone(model, utts, on_layer=step)
        variants = {}
        if opts.budget is not None:
            for key, bits in (("delta_w4a8_db", {"weight_bits": 4}), ("delta_w8a16_db", {"act_bits": 16})):
                variants[key] = {r["layer"]: r["delta_si_sdr_db"] for r in layer_alone(model, utts, bits, step)[0]}
        hessian = hessian_traces(model, utts, separation_loss(cfg.train.loss), opts.hessian_samples,
                                 opts.hessian_seconds, on_sample=lambda: bar.advance(t_hess))
        ceiling = model_ceiling(model, utts, opts.bits, on_step=lambda: bar.advance(t_ceil))
    act = activation_per_ms(model, utts[0][0])
    sensitivity = []
    for (name, layer), row in zip(layers, alone):
        entry = {"layer": name, "delta_si_sdr_db": row["delta_si_sdr_db"],
                 "weight_bits": int(layer.weight_quant.bits), "act_bits": int(getattr(layer.out_quant, "bits", 8)),
                 "n_weights": layer.conv.weight.numel(), "act_per_ms": act[name]}
        for key, values in variants.items():
            entry[key] = values[name] if key != "delta_w8a16_db" or act_bits_apply(layer) else None
        sensitivity.append(entry)
    report = {
        "checkpoint": str(checkpoint), "architecture": cfg.model.name, "method": str(loaded.meta.get("method", "?")),
        "data": str(data), "utterances": [u[2] for u in utts],
        "float_si_sdr": float_si_sdr,
        "sensitivity": sensitivity,
        "kl": [{"layer": r["layer"], "kl": r["kl"]} for r in alone],
        "hessian": hessian,
        "sqnr": sqnr,
        "ceiling": ceiling,
    }
    if opts.budget is not None:
        report["plan"] = plan_section(sensitivity, cfg, opts.budget)
    return report


def plan_section(sensitivity: list[dict], cfg, budget: float) -> dict:  # noqa: ANN001
    if (cfg.quant.weight_bits, cfg.quant.act_bits) != (8, 8):
        raise FqssError(f"--plan starts from uniform int8: the checkpoint has weight_bits {cfg.quant.weight_bits}, "
                        f"act_bits {cfg.quant.act_bits}")
    costs = [LayerCost(r["layer"], r["n_weights"], r["act_per_ms"], r["delta_w8a16_db"] is not None,
                       r["delta_si_sdr_db"], r["delta_w4a8_db"], r["delta_w8a16_db"]) for r in sensitivity]
    plan = choose_plan(costs, budget)
    base = total_cost(costs, {})
    return {"budget": budget, "layers": plan, "cost_bytes": total_cost(costs, plan), "uniform_int8_cost_bytes": base,
            "ratio": total_cost(costs, plan) / base}
