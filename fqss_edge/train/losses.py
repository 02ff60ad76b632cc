"""Separation losses: negative PIT SI-SDR (float / vanilla QAT) and FQSS sample-aware distillation (SAKD)."""

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
