"""fqss_edge.metrics against known values, a direct SI-SDR implementation and the libraries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fqss_edge.metrics import pit_si_sdr, reorder, sdr, si_sdr, si_sdr_linear, si_sdri


def direct_si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    """Textbook zero-mean SI-SDR (Le Roux et al. 2019) in float64, no eps."""
    est, ref = est - est.mean(), ref - ref.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


def _noise_at_snr(ref: torch.Tensor, snr_db: float, seed: int, orthogonal: bool) -> torch.Tensor:
    """Zero-mean noise with power ``snr_db`` below ``ref`` (optionally orthogonal to the zero-mean ref)."""
    n = torch.randn(ref.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    n = n - n.mean(-1, keepdim=True)
    r = ref - ref.mean(-1, keepdim=True)
    if orthogonal:
        n = n - (n * r).sum(-1, keepdim=True) / (r * r).sum(-1, keepdim=True) * r
    scale = torch.sqrt(r.pow(2).sum(-1, keepdim=True) / n.pow(2).sum(-1, keepdim=True) / 10 ** (snr_db / 10))
    return n * scale


def _signals(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_identical_is_huge() -> None:
    ref = _signals((3, 8000)).float()
    assert (si_sdr(ref, ref) > 80).all()


@pytest.mark.parametrize("snr", [-10.0, 0.0, 10.0, 30.0], ids=lambda s: f"{s:+.0f}dB")
def test_orthogonal_noise_gives_exact_snr(snr: float) -> None:
    ref = _signals((2, 16000))
    est = ref + _noise_at_snr(ref, snr, seed=1, orthogonal=True)
    torch.testing.assert_close(si_sdr(est, ref), torch.full((2,), snr, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(si_sdr_linear(est, ref), torch.full((2,), 10 ** (snr / 10), dtype=torch.float64),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0], ids=lambda s: f"{s:.0f}dB")
def test_white_noise_close_to_snr(snr: float) -> None:
    ref = _signals((4, 16000)).float()
    est = ref + _noise_at_snr(ref.double(), snr, seed=2, orthogonal=False).float()
    assert (si_sdr(est, ref) - snr).abs().max() < 0.3


def test_scale_and_offset_invariant() -> None:
    ref, est = _signals((2, 4000), 0), _signals((2, 4000), 1)
    est = ref + 0.5 * est
    base = si_sdr(est, ref)
    torch.testing.assert_close(si_sdr(3.0 * est + 0.25, ref), base)
    torch.testing.assert_close(si_sdr(est, 0.1 * ref - 2.0), base)


def test_silent_inputs_are_finite() -> None:
    z = torch.zeros(2, 1000)
    assert torch.isfinite(si_sdr(z, z)).all() and torch.isfinite(si_sdr(_signals((2, 1000)).float(), z)).all()


@pytest.mark.parametrize("snr", [-5.0, 5.0, 25.0], ids=lambda s: f"{s:+.0f}dB")
def test_matches_direct_implementation(snr: float) -> None:
    ref = _signals((3, 8000), 3) + 0.3  # non-zero mean, to exercise the zero-mean step
    est = ref + _noise_at_snr(ref, snr, seed=4, orthogonal=False) - 0.1
    ours = si_sdr(est, ref)
    direct = [direct_si_sdr(e.numpy(), r.numpy()) for e, r in zip(est, ref)]
    np.testing.assert_allclose(ours.numpy(), direct, atol=1e-6)


def test_matches_library_si_sdr() -> None:
    """fast_bss_eval (a dependency) and a direct numpy SI-SDR agree with ours."""
    ref = _signals((4, 8000), 5) + 0.2
    est = ref + _noise_at_snr(ref, 8.0, seed=6, orthogonal=False)
    import fast_bss_eval as fbe

    lib = torch.from_numpy(fbe.si_sdr(ref.unsqueeze(1).numpy(), est.unsqueeze(1).numpy(), zero_mean=True)[:, 0])
    direct = torch.tensor([direct_si_sdr(e.numpy(), r.numpy()) for e, r in zip(est, ref)], dtype=torch.float64)
    torch.testing.assert_close(lib.double(), direct, atol=1e-4, rtol=0)
    torch.testing.assert_close(si_sdr(est, ref), lib.double(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("n_src", [2, 3], ids=lambda n: f"{n}src")
def test_pit_finds_every_permutation(n_src: int) -> None:
    perms = list(itertools.permutations(range(n_src)))
    ref = _signals((len(perms), n_src, 4000), 7)
    est = torch.stack([ref[b, list(p)] for b, p in enumerate(perms)])  # est[b, j] = ref[b, p[j]]
    est = est + 0.05 * _signals(est.shape, 8)
    best, perm = pit_si_sdr(est, ref)
    for b, p in enumerate(perms):
        assert perm[b].tolist() == list(np.argsort(p))  # inverse permutation
    torch.testing.assert_close(reorder(est, perm), ref, atol=0.3, rtol=0)
    torch.testing.assert_close(best, si_sdr(reorder(est, perm), ref).mean(-1))
    assert (best > 20).all()


def test_pit_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="up to 3"):
        pit_si_sdr(torch.zeros(1, 4, 10), torch.zeros(1, 4, 10))
    with pytest.raises(ValueError, match="equal shape"):
        pit_si_sdr(torch.zeros(1, 2, 10), torch.zeros(1, 2, 11))


def test_si_sdri_of_two_speaker_mixture() -> None:
    ref = _signals((2, 16000), 9)
    ref = ref - ref.mean(-1, keepdim=True)
    ref[1] -= (ref[1] @ ref[0]) / (ref[0] @ ref[0]) * ref[0]  # orthogonal sources of equal power
    ref[1] *= ref[0].norm() / ref[1].norm()
    mix = ref.sum(0)
    torch.testing.assert_close(si_sdr(mix.expand_as(ref), ref), torch.zeros(2, dtype=torch.float64), atol=1e-6, rtol=0)
    est = ref + _noise_at_snr(ref, 15.0, seed=10, orthogonal=True)
    torch.testing.assert_close(si_sdri(est, ref, mix), torch.full((2,), 15.0, dtype=torch.float64), atol=1e-6, rtol=0)
    assert si_sdri(est.unsqueeze(0), ref.unsqueeze(0), mix.unsqueeze(0)).shape == (1, 2)


def test_sdr_near_snr_and_filter_invariant() -> None:
    ref = _signals((2, 16000), 11)
    noisy = ref + _noise_at_snr(ref, 20.0, seed=12, orthogonal=False)
    s = sdr(noisy, ref)
    assert s.shape == (2,) and ((s > 19.8) & (s < 21.0)).all()
    fir = torch.tensor([0.6, 0.3, -0.2, 0.1], dtype=torch.float64)  # a short filter is not distortion for BSS-eval
    filtered = torch.stack([torch.from_numpy(np.convolve(r.numpy(), fir.numpy())[:16000]) for r in ref])
    assert (sdr(filtered, ref) > 40).all()
    assert (si_sdr(filtered, ref) < 10).all()


def test_sdr_keeps_the_given_pairing() -> None:
    ref = _signals((2, 8000), 13)
    swapped = ref.flip(0)
    assert (sdr(swapped, ref) < 0).all()  # no hidden permutation search
    assert sdr(ref.float().unsqueeze(0), ref.float().unsqueeze(0)).shape == (1, 2)


def _direct_bss_sdr(est: np.ndarray, ref: np.ndarray, taps: int = 512) -> float:
    """BSS-eval SDR written out: project est onto the span of the reference delayed by 0..taps-1 samples."""
    n = len(ref)
    delayed = np.stack([np.concatenate([np.zeros(k), ref[: n - k]]) for k in range(taps)], axis=1)
    coef, *_ = np.linalg.lstsq(delayed, est, rcond=None)
    target = delayed @ coef
    return 10 * np.log10(np.sum(target**2) / np.sum((est - target) ** 2))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_sdr_matches_a_direct_projection(snr_db: float) -> None:
    ref = _signals((2, 4000), 14)
    est = ref + _noise_at_snr(ref, snr_db, seed=15, orthogonal=False)
    ours = sdr(est, ref)
    direct = [_direct_bss_sdr(est[i].numpy(), ref[i].numpy()) for i in range(2)]
    # fast_bss_eval estimates the correlations with FFTs over the whole signal (a Toeplitz approximation), so it
    # differs from the exact least-squares projection by a few hundredths of a dB
    np.testing.assert_allclose(ours.numpy(), direct, atol=0.1)
