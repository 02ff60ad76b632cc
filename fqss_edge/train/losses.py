"""Separation losses: negative PIT SI-SDR or PIT MSE (float / vanilla QAT) and FQSS sample-aware distillation
(SAKD) for each; ``train.loss`` in the run config chooses. ``l1`` is for named sources (music stems, stereo: the
rows of ``[B, n_src * C, T]``): L1 without permutation, and the FQSS reference's L1 SAKD."""

from __future__ import annotations

import torch

from fqss_edge.metrics import pit_si_sdr, reorder, si_sdr, si_sdr_linear

_EPS = 1e-8


def best_permutation(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """[B, S, T] -> [B, S]: est[b, perm[b, j]] pairs with ref[b, j] (chosen without gradient)."""
    with torch.no_grad():
        return pit_si_sdr(est, ref)[1]


def pit_neg_si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Plain PIT loss: negative mean SI-SDR in dB."""
    est = reorder(est, best_permutation(est, ref))
    return -si_sdr(est, ref).mean()


def sakd_loss(student: torch.Tensor, teacher: torch.Tensor, ref: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """FQSS sample-aware knowledge distillation.

    w_i = SISDR(q_i, s_i) / SISDR(f_i, s_i) (detached, per sample),
    L = -10 log10[(1 - lam) mean_i SISDR(q_i, s_i) + lam mean_i w_i SISDR(q_i, f_i) + eps], linear SI-SDR.
    """
    q = reorder(student, best_permutation(student, ref))
    f = reorder(teacher.detach(), best_permutation(teacher.detach(), ref))
    q_s = si_sdr_linear(q, ref)
    f_s = si_sdr_linear(f, ref)
    w = (q_s / f_s).detach()
    q_f = si_sdr_linear(q, f)
    return -10 * torch.log10((1 - lam) * q_s.mean() + lam * (w * q_f).mean() + _EPS)


def _mse(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean squared error per source ``[B, S]``."""
    return (est - ref).pow(2).mean(-1)


def _sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Plain SDR in dB per source ``[B, S]``: 10 log10(|s|^2 / |s - est|^2)."""
    return 10 * torch.log10((ref.pow(2).sum(-1) + _EPS) / ((ref - est).pow(2).sum(-1) + _EPS))


def pit_mse(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """PIT mean squared error (sources paired by SI-SDR, as every other loss and metric here pairs them)."""
    return _mse(reorder(est, best_permutation(est, ref)), ref).mean()


def sakd_mse_loss(student: torch.Tensor, teacher: torch.Tensor, ref: torch.Tensor, lam: float = 0.1
                  ) -> torch.Tensor:
    """SAKD for waveform-regression models (the FQSS reference's L1 variant for music, with squared error):

    w_i = exp((SDR(f_i) - SDR(q_i)) / 10) (detached; SDR in dB, not scale-invariant: a regression model's gain
    errors count), L = (1 - lam) MSE(q, s) + lam mean_i w_i MSE(q_i, f_i).
    """
    q = reorder(student, best_permutation(student, ref))
    f = reorder(teacher.detach(), best_permutation(teacher.detach(), ref))
    w = torch.exp((_sdr(f, ref) - _sdr(q, ref)) / 10).detach()
    return (1 - lam) * _mse(q, ref).mean() + lam * (w * _mse(q, f)).mean()


def _l1(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per source ``[B, S]``."""
    return (est - ref).abs().mean(-1)


def l1_loss(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """L1 of named sources, in order (no permutation: drums are drums)."""
    return _l1(est, ref).mean()


def sakd_l1_loss(student: torch.Tensor, teacher: torch.Tensor, ref: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """The FQSS reference's SAKD for music (FQSS_METHOD.md), sources in order:

    w_i = exp((SDR(f_i) - SDR(q_i)) / 10) (detached, per sample and source; SDR in dB),
    L = (1 - lam) L1(q, s) + lam mean_i w_i L1(q_i, f_i).
    """
    f = teacher.detach()
    w = torch.exp((_sdr(f, ref) - _sdr(student, ref)) / 10).detach()
    return (1 - lam) * _l1(student, ref).mean() + lam * (w * _l1(student, f)).mean()


SEPARATION_LOSSES = {"si_sdr": pit_neg_si_sdr, "mse": pit_mse, "l1": l1_loss}
DISTILLATION_LOSSES = {"si_sdr": sakd_loss, "mse": sakd_mse_loss, "l1": sakd_l1_loss}
PERMUTATION_FREE = {"l1"}  # losses of named sources: validation pairs estimates and references in order


def separation_loss(name: str):
    """The loss of ``train.loss`` without a teacher (float, vanilla QAT)."""
    return SEPARATION_LOSSES[name]


def distillation_loss(name: str):
    """The FQSS sample-aware distillation loss of ``train.loss``."""
    return DISTILLATION_LOSSES[name]
