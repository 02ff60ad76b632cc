"""Per-layer sensitivity three ways.

* **ΔSI-SDR**: that layer alone quantized (weights and output activation at the given bit widths, every other
  layer float) minus the float twin, mean SI-SDR (PIT) over the utterances, in dB.
* **KL**: ``KL(P_float || P_quant)`` between the two models' output spectral energy distributions, mean over the
  utterances: ``P = |STFT(y)|^2`` over (source, frequency, frame), normalised to sum 1 (Hann, 256-point, hop 128,
  a floor of 1e-10 before normalising). Quantization noise filling quiet time-frequency bins raises it; a change
  of overall gain does not.
* **Hessian**: a Hutchinson estimate of tr(H), H the Hessian of the training loss (``train.loss`` of the run
  config, e.g. negative PIT SI-SDR in dB) with respect to the layer's weights, at the float twin: E[v^T H v] over
  Rademacher vectors v (double backward), all layers from the same samples. Times the layer's weight quantization
  noise power (step^2 / 12 per weight, step = max|w| / (2^(b-1) - 1) of its output channel), as
  ``omega = 0.5 * tr(H) / n * sum_i step_i^2 / 12``: the second-order loss increase with the trace spread evenly
  over the n weights (HAWQ-v2's measure).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fqss_edge.analysis.data import Utterance, separate
from fqss_edge.analysis.switches import analysis_layers, bit_widths, quantized_only
from fqss_edge.metrics import pit_si_sdr
from fqss_edge.models.base import SeparationModel

N_FFT, HOP, FLOOR = 256, 128, 1e-10


def si_sdr_db(est: torch.Tensor, ref: torch.Tensor) -> float:
    """PIT SI-SDR (dB, mean over sources) of est, ref [S, T]."""
    return float(pit_si_sdr(est.unsqueeze(0).double(), ref.unsqueeze(0).double())[0][0])


def spectral_distribution(y: torch.Tensor) -> torch.Tensor:
    """[S, T] -> the normalised energy over (source, frequency, frame)."""
    win = torch.hann_window(N_FFT, dtype=torch.float64)
    spec = torch.stft(y.double(), N_FFT, HOP, window=win, return_complex=True).abs().pow(2) + FLOOR
    return spec / spec.sum()


def spectral_kl(y_float: torch.Tensor, y_quant: torch.Tensor) -> float:
    p, q = spectral_distribution(y_float), spectral_distribution(y_quant)
    return float((p * (p / q).log()).sum())


def layer_alone(model: SeparationModel, utts: list[Utterance], bits: dict[str, int] | None = None,
                on_layer: Callable[[str], None] | None = None) -> tuple[list[dict], list[float]]:
    """``([{"layer", "delta_si_sdr_db", "kl"}], float twin SI-SDR per utterance)``; ``bits``: e.g.
    ``{"weight_bits": 4}`` for every layer in turn (None: the checkpoint's bit widths)."""
    with quantized_only(model, []):
        floats = [separate(model, mix) for mix, _, _ in utts]
    base = [si_sdr_db(y, ref) for y, (_, ref, _) in zip(floats, utts)]
    rows = []
    for name, _ in analysis_layers(model):
        with quantized_only(model, [name]), bit_widths(model, {name: bits} if bits else {}):
            outs = [separate(model, mix) for mix, _, _ in utts]
        scores = [si_sdr_db(y, ref) for y, (_, ref, _) in zip(outs, utts)]
        rows.append({"layer": name, "delta_si_sdr_db": sum(scores) / len(scores) - sum(base) / len(base),
                     "kl": sum(spectral_kl(f, y) for f, y in zip(floats, outs)) / len(utts)})
        if on_layer is not None:
            on_layer(name)
    return rows, base


def weight_noise_power(layer: torch.nn.Module, bits: int) -> float:
    """Mean over the layer's weights of step^2 / 12 at ``bits`` (per output channel steps of its range)."""
    wq = layer.weight_quant
    w = layer.conv.weight
    step = torch.clamp(wq.max_abs.detach().abs(), min=1e-10) / (2 ** (bits - 1) - 1)
    per_channel = w[0].numel() if wq.axis == 0 else w.numel() // w.shape[1]
    return float((step.double().pow(2) / 12).sum() * per_channel / w.numel())


def hessian_traces(model: SeparationModel, utts: list[Utterance], loss: Callable, samples: int = 4,
                   seconds: float = 1.0, seed: int = 0, on_sample: Callable[[], None] | None = None) -> list[dict]:
    """``[{"layer", "trace", "n_weights", "noise_power_w8", "omega_w8", "noise_power_w4", "omega_w4"}]``:
    Hutchinson tr(H) of ``loss`` over each layer's weights at the float twin, ``samples`` Rademacher vectors per
    utterance (its first ``seconds``)."""
    layers = analysis_layers(model)
    params = [m.conv.weight for _, m in layers]
    gen = torch.Generator().manual_seed(seed)
    traces = [0.0] * len(layers)
    n = 0
    sr = model.config.sample_rate
    with quantized_only(model, []):
        for mix, ref, _ in utts:
            t = min(mix.shape[-1], int(seconds * sr))
            est = model(mix[:t].view(1, -1))
            value = loss(est, ref[:, :t].unsqueeze(0))
            # a layer whose output the loss never reads (e.g. the last TCN block's residual conv) has H = 0
            grads = torch.autograd.grad(value, params, create_graph=True, allow_unused=True, materialize_grads=True)
            for _ in range(samples):
                vs = [torch.randint(0, 2, p.shape, generator=gen).to(p.dtype) * 2 - 1 for p in params]
                hvs = torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True, allow_unused=True,
                                          materialize_grads=True)
                for k, (hv, v) in enumerate(zip(hvs, vs)):
                    traces[k] += float((hv * v).sum())
                n += 1
                if on_sample is not None:
                    on_sample()
            del grads, value, est
    rows = []
    for (name, m), tr in zip(layers, traces):
        tr /= max(n, 1)
        row = {"layer": name, "trace": tr, "n_weights": m.conv.weight.numel()}
        for b in (8, 4):
            p = weight_noise_power(m, b)
            row[f"noise_power_w{b}"] = p
            row[f"omega_w{b}"] = 0.5 * tr * p
        rows.append(row)
    return rows
