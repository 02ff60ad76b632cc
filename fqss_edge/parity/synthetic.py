"""Tiny calibrated random-weight models and random data folders: for tests and smoke runs of export/parity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fqss_edge.quant.tools import observation
from fqss_edge.runtimes.torch_backend import torch_threads



def smoke_model(arch: str = "convtasnet", **changes: Any) -> dict[str, Any]:
    """The smallest configuration of a registered architecture (``smoke_config`` of its model class), as a config
    mapping: the one source of tiny models for tests and smoke runs."""
    from fqss_edge.models import architecture

    return architecture(arch).smoke_config(**changes).model_dump()


TINY_MODEL = smoke_model("convtasnet")
# FQSS with the all-int8 gLN statistics (the default, norm_bits 8) and with the int16 statistics island
# (norm_bits 16): tests cover both
FQSS_QUANT_NORM8 = dict(enabled=True, weight_bits=8, act_bits=8, norm_bits=8, calib_batches=2, ema_alpha=0.9,
                        splitter=True, residual_output=True)
FQSS_QUANT = dict(FQSS_QUANT_NORM8, norm_bits=16)
VANILLA_QUANT = dict(FQSS_QUANT, splitter=False, residual_output=False)


def random_audio(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """[n, length] in [-0.8, 0.8): uniform noise plus a sine, so activations have both signs and some structure."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 8000.0
    f = 200.0 + 600.0 * torch.rand(n, 1, generator=g)
    return 0.4 * (torch.rand(n, length, generator=g) * 2 - 1) + 0.4 * torch.sin(2 * torch.pi * f * t)


@torch.no_grad()
def randomize_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Running statistics and affine parameters away from a new BatchNorm's identity (a trained one's), so that a
    random model's folded BatchNorms (``norm: BN``) change its weights; models without BatchNorm are untouched."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
            m.weight.copy_(0.5 + torch.rand(n, generator=g))
            m.bias.copy_(0.1 * torch.randn(n, generator=g))


@torch.no_grad()
def randomize_norm_affines(model: nn.Module, seed: int = 0) -> None:
    """gLN / LayerNorm gamma and beta away from their initial 1 and 0 (a trained model's): an all-zero beta
    quantizes with a ~1e-12 scale, an int8 ADD that XNNPACK refuses and no trained model has."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith((".gamma", ".beta")):
            p.add_(torch.randn(p.shape, generator=g) * (0.1 if name.endswith(".gamma") else 0.05))


@torch.no_grad()
def calibrate(model: nn.Module, batches: int = 2, length: int = 800, seed: int = 0, batch_size: int = 2) -> nn.Module:
    """Observe activation ranges over ``batches`` random batches (PTQ-style), then eval mode."""
    c = int(getattr(model, "audio_channels", 1))  # a stereo model: [B, C, T]
    with observation(model), torch_threads(1):
        for k in range(batches):
            x = random_audio(batch_size * c, length, seed + k)
            model(x if c == 1 else x.view(batch_size, c, length))
    return model.eval()


def calibrated_random_model(model_cfg: dict[str, Any] | None = None, quant_cfg: dict[str, Any] | None = None,
                            seed: int = 0, batches: int = 2, length: int = 800, batch_size: int = 2,
                            norm_affines: bool = False) -> nn.Module:
    """``norm_affines``: also move the norms' gamma / beta off their initial values (``randomize_norm_affines``)."""
    from fqss_edge.models import build_model

    torch.manual_seed(seed)
    model = build_model(model_cfg or TINY_MODEL, quant_cfg)
    randomize_batchnorms(model, seed)
    if norm_affines:
        randomize_norm_affines(model, seed)
    if not quant_cfg or not quant_cfg.get("enabled", True):
        return model.eval()
    return calibrate(model, batches, length, seed, batch_size)


def save_random_checkpoint(path: str | Path, model_cfg: dict[str, Any] | None = None,
                           quant_cfg: dict[str, Any] | None = None, seed: int = 0, sample_rate: int = 8000,
                           norm_affines: bool = False) -> Path:
    from fqss_edge.checkpoint import save_checkpoint

    model_cfg = dict(model_cfg or TINY_MODEL)
    model = calibrated_random_model(model_cfg, quant_cfg, seed, norm_affines=norm_affines)
    config = {"model": dict(model_cfg, sample_rate=sample_rate), "quant": quant_cfg or {"enabled": False}}
    return save_checkpoint(path, model.state_dict(), config, {"method": "random"})


def write_random_dataset(root: str | Path, n_utts: int = 2, seconds: float = 0.25, sample_rate: int = 8000,
                         n_src: int = 2, seed: int = 0) -> Path:
    """``root/mix``, ``root/s1``, ... with ``n_utts`` random mixtures of tones and noise (16-bit wavs)."""
    from fqss_edge.audio import write_wav

    rng = np.random.default_rng(seed)
    root = Path(root)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    for u in range(n_utts):
        srcs = [0.3 * np.sin(2 * np.pi * rng.uniform(100, 1500) * t) * rng.uniform(0.2, 1.0, 1)
                + 0.05 * rng.standard_normal(n) for _ in range(n_src)]
        for k, s in enumerate(srcs):
            write_wav(root / f"s{k + 1}" / f"utt{u}.wav", s, sample_rate)
        write_wav(root / "mix" / f"utt{u}.wav", np.sum(srcs, axis=0), sample_rate)
    return root
