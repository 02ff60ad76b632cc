"""Whole-model quantization utilities: range initialisation, calibration, synchronisation, inspection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

from fqss_edge.quant.quantizers import ActQuantizer, FixedQuantizer, WeightQuantizer

QUANTIZER_TYPES = (ActQuantizer, FixedQuantizer, WeightQuantizer)


def quantizer_prefixes(model: nn.Module) -> list[str]:
    return [name + "." for name, m in model.named_modules() if isinstance(m, QUANTIZER_TYPES)]


def is_quantizer_key(key: str, prefixes: list[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


def count_parameters(model: nn.Module) -> int:
    """Network parameters, without the quantizers' ranges."""
    prefixes = quantizer_prefixes(model)
    return sum(p.numel() for n, p in model.named_parameters() if not is_quantizer_key(n, prefixes))


@torch.no_grad()
def init_weight_ranges(model: nn.Module) -> None:
    """Initialise every weight quantizer's per-channel range from max|w| (before training starts)."""
    for m in model.modules():
        init = getattr(m, "init_quant_ranges", None)
        if init is not None:
            init()


def act_quantizers(model: nn.Module) -> Iterator[ActQuantizer]:
    return (m for m in model.modules() if isinstance(m, ActQuantizer) and m.enabled)


def calibrating(model: nn.Module) -> bool:
    return model.training and any(int(q.n_obs) < q.calib_batches for q in act_quantizers(model))


@contextlib.contextmanager
def observation(model: nn.Module) -> Iterator[None]:
    """Within the block every activation quantizer observes (EMA of min/max) and passes values through."""
    qs = list(act_quantizers(model))
    for q in qs:
        q.observing = True
    try:
        yield
    finally:
        for q in qs:
            q.observing = False


@torch.no_grad()
def sync_ranges(model: nn.Module, tracking_only: bool = False) -> None:
    """Average activation ranges over data-parallel processes (each observed its own batches)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for q in act_quantizers(model):
        if tracking_only and not q.tracking:
            continue
        for p in (q.lo, q.hi):
            dist.all_reduce(p.data)
            p.data /= world


def uncalibrated(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, ActQuantizer) and m.enabled and not m.calibrated]


def load_network_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load weights strictly, except that quantizer ranges may be absent (float / FQSS-style state dicts), and that
    the ranges of quantizers a folded norm does not have (``absent_quantizers``: an unfolded model's checkpoint, e.g.
    the float teacher of a ``fold_norms`` run) are dropped."""
    absent = [f"{name}.{q}." if name else f"{q}." for name, m in model.named_modules()
              for q in getattr(m, "absent_quantizers", list)()]
    result = model.load_state_dict({k: v for k, v in state.items() if not is_quantizer_key(k, absent)}, strict=False)
    prefixes = quantizer_prefixes(model)
    missing = [k for k in result.missing_keys if not is_quantizer_key(k, prefixes)]
    if missing or result.unexpected_keys:
        what = missing[:3] if missing else result.unexpected_keys[:3]
        kind = "missing" if missing else "unexpected"
        raise KeyError(f"{kind} tensors {', '.join(what)}")


@contextlib.contextmanager
def perturbed_rounding(eps: float, seed: int = 0) -> Iterator[None]:
    """Within the block, every activation rounding of the simulation sees uniform noise in [-eps, eps] codes
    added to its input: a model of runtimes whose arithmetic differs by ~eps codes before rounding (float32
    summation order ~1e-6..1e-5, fixed-point double rounding up to 2^-(shift+1)). Comparing the outputs with
    an unperturbed run measures how far such differences carry through the network (``benchmarks/
    parity_sensitivity.py``). Analysis only."""
    from fqss_edge.quant import quantizers

    gen = torch.Generator().manual_seed(seed)
    quantizers._rounding_noise.append((float(eps), gen))
    try:
        yield
    finally:
        quantizers._rounding_noise.pop()
