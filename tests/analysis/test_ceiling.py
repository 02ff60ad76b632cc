"""fqss_edge.analysis.ceiling: the SDR ceiling on a separator of known quality (the reference sources plus noise at
25 dB, passing half of any input change to each source), where 1/SDR_q = 1/SDR + 1/SQNR must hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fqss_edge.analysis.ceiling import quantize_peak, sdr_ceiling, theory_sqnr_db


@pytest.fixture(scope="module")
def ceiling() -> dict:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000) / 8000
    ref = torch.stack([0.4 * torch.sin(2 * torch.pi * 220 * t) * (1 + torch.sin(2 * torch.pi * 3 * t)),
                       0.2 * torch.randn(t.shape, generator=g)]).float()
    mix = ref.sum(0)
    noise = torch.randn(ref.shape, generator=g)
    noise *= ref.pow(2).mean(-1, keepdim=True).sqrt() / noise.pow(2).mean(-1, keepdim=True).sqrt() * 10 ** (-25 / 20)

    def oracle(x: torch.Tensor) -> torch.Tensor:
        return ref + noise + 0.5 * (x - mix)

    return sdr_ceiling(oracle, [(mix, ref, "u0")])


def test_quantizer_matches_its_formula():
    x = torch.sin(torch.linspace(0, 200, 40000)).view(1, -1) * 0.7
    for bits in (4, 8, 12):
        q = quantize_peak(x, bits)
        measured = 10 * torch.log10(x.pow(2).sum() / (x - q).pow(2).sum())
        tol = 0.5 if bits == 4 else 0.2  # 4 bits: a sine's rounding error is not quite uniform (0.4 dB here)
        assert abs(float(measured) - float(theory_sqnr_db(x, float(x.abs().max()), bits)[0])) < tol, bits
        assert len(torch.unique(q)) <= 2**bits - 1


def test_measured_rises_with_bits_and_meets_the_prediction(ceiling):
    out = ceiling["output"]
    measured = np.array(out["mean_measured"])
    assert ceiling["bits"] == list(range(4, 17))
    assert np.all(np.diff(measured) > -0.05), measured  # more bits never cost more than noise
    assert measured[0] < ceiling["float_si_sdr"][0] - 3  # 4 bits: the quantization noise dominates (~19 dB SQNR)
    assert abs(measured[-1] - ceiling["float_si_sdr"][0]) < 0.01  # 16 bits: the model's own SDR
    assert np.all(np.abs(measured - np.array(out["mean_predicted"])) < 0.5), (measured, out["mean_predicted"])


def test_input_noise_reaches_the_output(ceiling):
    inp = ceiling["input"]
    measured = np.array(inp["mean_measured"])
    assert measured[0] < measured[-1] - 3 and np.all(np.diff(measured) > -0.05)
    assert len(inp["measured"]) == len(inp["predicted"]) == 1 and len(inp["measured"][0]) == 13
