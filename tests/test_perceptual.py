"""fqss_edge.perceptual: STOI and PESQ of paired estimates, NaN where undefined or not installed; evaluate()
carries them per utterance and in the mean."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

from fqss_edge import perceptual
from fqss_edge.evaluate import score_utterance, summarize

SR = 8000


def speech_like(seed: int, seconds: float = 3.0) -> np.ndarray:
    """Bursts of harmonic tones with pauses: P.862 needs something it detects as utterances."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 80 * seed
    voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.2).astype(float)
    return 0.2 * voiced * envelope + 0.002 * rng.standard_normal(t.size)


@pytest.fixture
def refs() -> np.ndarray:
    return np.stack([speech_like(0), speech_like(1)])


needs_pystoi = pytest.mark.skipif(importlib.util.find_spec("pystoi") is None, reason="pystoi not installed")
needs_pesq = pytest.mark.skipif(importlib.util.find_spec("pesq") is None, reason="pesq not installed")


@needs_pystoi
def test_stoi_is_one_for_the_reference_and_lower_for_noisy_estimates(refs):
    noisy = refs + 0.2 * np.random.default_rng(3).standard_normal(refs.shape)
    assert perceptual.stoi(refs, refs, SR) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < perceptual.stoi(noisy, refs, SR) < 0.95


@needs_pesq
def test_pesq_narrow_band_at_8k_and_undefined_elsewhere(refs):
    noisy = refs + 0.05 * np.random.default_rng(3).standard_normal(refs.shape)
    clean, degraded = perceptual.pesq(refs, refs, SR), perceptual.pesq(noisy, refs, SR)
    assert 4.0 < clean <= 4.65 and 1.0 <= degraded < clean - 0.5
    assert math.isnan(perceptual.pesq(refs, refs, 44_100))  # P.862 is defined at 8 and 16 kHz only
    assert math.isnan(perceptual.pesq(np.zeros_like(refs), refs, SR))  # digital silence


@needs_pystoi
def test_stoi_of_too_little_speech_is_undefined(refs):
    short = refs[:, : SR // 4]  # 0.25 s: fewer than the 30 frames STOI needs
    assert math.isnan(perceptual.stoi(short, short, SR))


def test_missing_packages_give_nan_and_are_named(monkeypatch, refs):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("pystoi", "pesq") else
                        real(name, *a))
    assert perceptual.missing() == ["pystoi", "pesq"]
    assert math.isnan(perceptual.stoi(refs, refs, SR)) and math.isnan(perceptual.pesq(refs, refs, SR))


@needs_pystoi
def test_score_utterance_pairs_sources_before_stoi(refs):
    ref = torch.from_numpy(refs)
    swapped = ref.flip(0)  # the estimates in the other order: PIT pairs them back
    s = score_utterance(swapped, ref, ref.sum(0), "u", with_sdr=False, sample_rate=SR)
    assert s.stoi == pytest.approx(1.0, abs=1e-6)
    assert "stoi" in summarize([s])
    plain = score_utterance(swapped, ref, ref.sum(0), "u", with_sdr=False)  # no sample rate: not computed
    assert math.isnan(plain.stoi) and math.isnan(plain.pesq) and "stoi" not in summarize([plain])
