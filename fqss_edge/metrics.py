"""Separation metrics: SI-SDR (zero-mean, scale-invariant), PIT, SI-SDRi, and BSS-eval SDR.

All functions work on torch tensors with time on the last axis and any leading batch/source axes.
``sdr`` is BSS-eval (v3-style, 512-tap distortion filter) SDR from ``fast_bss_eval`` (numpy
backend). fast_bss_eval does **not** reproduce museval's BSSEval v4 (1 s windows, medians) used for music
(SiSEC 2018): never put the two in one table.
"""

from __future__ import annotations

import itertools

import torch

EPS = 1e-8


def si_sdr_linear(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Zero-mean scale-invariant SDR as a linear power ratio ``|a s|^2 / |e - a s|^2`` over the last axis."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    target = alpha * ref
    return (target.pow(2).sum(-1) + eps) / ((est - target).pow(2).sum(-1) + eps)


def si_sdr(est: torch.Tensor, ref: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Zero-mean SI-SDR in dB over the last axis (``est``/``ref`` broadcast)."""
    return 10 * torch.log10(si_sdr_linear(est, ref, eps))


def pit_si_sdr(est: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Permutation-invariant SI-SDR for ``est``, ``ref`` of shape ``[B, S, T]`` (exhaustive, S <= 3).

    Returns the best mean SI-SDR per sample ``[B]`` (dB) and the permutation ``[B, S]``: ``est[b, perm[b, j]]``
    is the estimate paired with ``ref[b, j]``.
    """
    if est.dim() != 3 or est.shape != ref.shape:
        raise ValueError(f"pit_si_sdr wants est and ref of equal shape [B, S, T], got {tuple(est.shape)} and "
                         f"{tuple(ref.shape)}")
    n = est.shape[1]
    if n > 3:
        raise ValueError(f"pit_si_sdr: exhaustive search supports up to 3 sources, got {n}")
    pair = si_sdr(est.unsqueeze(2), ref.unsqueeze(1))  # [B, S_est, S_ref]
    perms = torch.tensor(list(itertools.permutations(range(n))), device=est.device)  # [P, S]
    cols = torch.arange(n, device=est.device)
    scores = torch.stack([pair[:, p, cols].mean(-1) for p in perms], dim=1)  # [B, P]
    best, idx = scores.max(dim=1)
    return best, perms[idx]


def reorder(est: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``est [B, S, T]`` reordered by ``perm [B, S]`` from ``pit_si_sdr`` so that it pairs with ``ref``."""
    return torch.gather(est, 1, perm.unsqueeze(-1).expand_as(est))


def si_sdri(est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """SI-SDR improvement in dB: ``si_sdr(est, ref) - si_sdr(mix, ref)``, per source.

    ``est``/``ref``: ``[..., S, T]`` already paired (see ``pit_si_sdr``/``reorder``); ``mix``: ``[..., T]``.
    """
    return si_sdr(est, ref) - si_sdr(mix.unsqueeze(-2).expand_as(ref), ref)


SDR_CLAMP_DB = 150.0


def sdr(est: torch.Tensor, ref: torch.Tensor, filter_length: int = 512) -> torch.Tensor:
    """BSS-eval SDR in dB of each estimate against its own reference (no permutation search), ``[..., T]``
    -> ``[...]``. Computed in float64. Not museval v4 (see module docstring)."""
    shape = torch.broadcast_shapes(est.shape, ref.shape)
    e = est.expand(shape).reshape(-1, 1, shape[-1]).double()
    r = ref.expand(shape).reshape(-1, 1, shape[-1]).double()
    import fast_bss_eval

    # numpy backend: fast_bss_eval's torch backend calls lu_solve in a way torch >= 2.x rejects;
    # clamp_db keeps a perfect estimate finite (its permutation step fails on an all-inf matrix)
    out = torch.from_numpy(fast_bss_eval.sdr(r.numpy(), e.numpy(), filter_length=filter_length, clamp_db=SDR_CLAMP_DB))
    return out.reshape(shape[:-1]).to(est.dtype if est.is_floating_point() else torch.float64)
