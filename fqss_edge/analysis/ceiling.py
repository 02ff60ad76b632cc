"""The SDR ceiling under quantization noise (FQSS_METHOD.md): the float twin's SI-SDR with its output (or its
input) quantized to b bits, b = 4..16, against ``1/SDR_q = 1/SDR + 1/SQNR`` (linear ratios).

The b-bit quantizer is uniform and symmetric with its range at the tensor's peak (per utterance; the sources share
it): codes in [-(2^(b-1) - 1), 2^(b-1) - 1], step ``peak / (2^(b-1) - 1)`` (the peak is a code: nothing clips). Its
SQNR is then ``10 log10(12) + 20 log10(2^(b-1) - 1) - 20 log10(peak / rms)`` dB, which tends to FQSS_METHOD's
6.02 b + 4.77 - 20 log10(peak / rms) (1.2 dB below it at 4 bits, 0.07 dB at 8), taken per source with its rms; SDR is the float
twin's SI-SDR of that source (PIT pairing of the unquantized estimate). For the **input** the prediction assumes the
network passes the input noise to each source at the mixture's SQNR (the same formula with the mixture's rms): the
measured points test that assumption.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fqss_edge.analysis.data import Utterance, separate
from fqss_edge.analysis.switches import quantized_only
from fqss_edge.metrics import pit_si_sdr, reorder, si_sdr
from fqss_edge.models.base import SeparationModel

BITS = tuple(range(4, 17))
_SQNR_CONST = 10 * math.log10(12.0)


def quantize_peak(x: torch.Tensor, bits: int) -> torch.Tensor:
    peak = float(x.abs().max())
    if peak == 0.0:
        return x.clone()
    q = 2 ** (bits - 1) - 1
    step = peak / q
    return torch.clamp(torch.round(x / step), -q, q) * step


def theory_sqnr_db(x: torch.Tensor, peak: float, bits: int) -> torch.Tensor:
    """Per row of x [S, T]: 10 log10(12) + 20 log10(2^(b-1) - 1) - 20 log10(peak / rms)."""
    rms = x.double().pow(2).mean(-1).sqrt().clamp(min=1e-12)
    return _SQNR_CONST + 20 * math.log10(2 ** (bits - 1) - 1) - 20 * torch.log10(peak / rms)


def predict_db(sdr_db: torch.Tensor, sqnr_db: torch.Tensor) -> float:
    """Mean over sources of 10 log10(1 / (1/SDR + 1/SQNR))."""
    inv = 10 ** (-sdr_db / 10) + 10 ** (-sqnr_db / 10)
    return float((-10 * torch.log10(inv)).mean())


def _paired(est: torch.Tensor, ref: torch.Tensor, perm: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-source SI-SDR [S] of est paired with ref (PIT unless ``perm`` is given), and the permutation."""
    e, r = est.unsqueeze(0).double(), ref.unsqueeze(0).double()
    if perm is None:
        perm = pit_si_sdr(e, r)[1]
    return si_sdr(reorder(e, perm), r)[0], perm


def model_ceiling(model: SeparationModel, utts: list[Utterance], bits: tuple[int, ...] = BITS,
                  on_step: Callable[[], None] | None = None) -> dict:
    """``sdr_ceiling`` of a model's float twin, with the model's own (as loaded) SI-SDR per utterance."""

    def float_twin(mix: torch.Tensor) -> torch.Tensor:
        with quantized_only(model, []):
            return separate(model, mix)

    out = sdr_ceiling(float_twin, utts, bits, on_step)
    out["model_si_sdr"] = [float(_paired(separate(model, mix), ref)[0].mean()) for mix, ref, _ in utts]
    return out


def sdr_ceiling(separator: Callable[[torch.Tensor], torch.Tensor], utts: list[Utterance],
                bits: tuple[int, ...] = BITS, on_step: Callable[[], None] | None = None) -> dict:
    """Per utterance and bit width: measured and predicted SI-SDR (dB) of ``separator`` (mixture [T] -> sources
    [S, T]) with its output or its input quantized, and its unquantized SI-SDR per utterance."""
    out = {"bits": list(bits), "utterances": [u[2] for u in utts], "float_si_sdr": [],
           "output": {"measured": [], "predicted": [], "sqnr_db": []},
           "input": {"measured": [], "predicted": [], "sqnr_db": []}}
    for mix, ref, _ in utts:
        est = separator(mix)
        sdr_s, perm = _paired(est, ref)
        out["float_si_sdr"].append(float(sdr_s.mean()))
        rows = {k: {"measured": [], "predicted": [], "sqnr_db": []} for k in ("output", "input")}
        peak = float(est.abs().max())
        paired_est = reorder(est.unsqueeze(0), perm)[0]
        mpeak = float(mix.abs().max())
        for b in bits:
            sq = theory_sqnr_db(paired_est, peak, b)
            rows["output"]["measured"].append(float(_paired(quantize_peak(est, b), ref, perm)[0].mean()))
            rows["output"]["predicted"].append(predict_db(sdr_s, sq))
            rows["output"]["sqnr_db"].append(float(sq.mean()))
            sq_in = theory_sqnr_db(mix.view(1, -1), mpeak, b).expand_as(sdr_s)
            rows["input"]["measured"].append(float(_paired(separator(quantize_peak(mix, b)), ref)[0].mean()))
            rows["input"]["predicted"].append(predict_db(sdr_s, sq_in))
            rows["input"]["sqnr_db"].append(float(sq_in.mean()))
            if on_step is not None:
                on_step()
        for k in ("output", "input"):
            for key, v in rows[k].items():
                out[k][key].append(v)
    for k in ("output", "input"):
        for key in ("measured", "predicted"):
            per_utt = out[k][key]
            out[k][f"mean_{key}"] = [sum(u[i] for u in per_utt) / len(per_utt) for i in range(len(bits))]
    return out
