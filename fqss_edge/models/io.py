"""Load a separation model from a self-describing checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from fqss_edge.checkpoint import load_checkpoint
from fqss_edge.errors import FqssError
from fqss_edge.models.asteroid_keys import from_asteroid, is_asteroid_state
from fqss_edge.models.factory import build_model
from fqss_edge.quant.tools import load_network_state, uncalibrated


@dataclass
class LoadedModel:
    model: nn.Module
    config: dict[str, Any]  # the run config: model, quant, train, data
    meta: dict[str, Any]

    @property
    def quantized(self) -> bool:
        return bool(self.config.get("quant", {}).get("enabled", False))

    @property
    def sample_rate(self) -> int:
        return int(self.config["model"]["sample_rate"])


def load_model(path: str | Path, config: dict[str, Any] | None = None) -> LoadedModel:
    """Build the model its checkpoint describes and load its tensors (eval mode).

    ``config`` is needed only for bare state dicts (FQSS-style ``.pth``) that carry no config."""
    ck = load_checkpoint(path)
    cfg = ck.config or config
    if not cfg or "model" not in cfg:
        raise FqssError(f"{path}: checkpoint carries no model config; pass --config CONFIG.yaml")
    quant = cfg.get("quant")
    model = build_model(cfg["model"], quant)  # disabled quant: the float model, its quantizers laid out as saved
    state = ck.state_dict
    try:
        if is_asteroid_state(state):
            state = from_asteroid(state)
        load_network_state(model, state)
    except (KeyError, RuntimeError) as e:
        raise FqssError(f"{path}: tensors do not fit the model config ({str(e).splitlines()[0]})") from None
    missing = uncalibrated(model)
    if missing:
        raise FqssError(f"{path}: quantizer {missing[0]} was never calibrated (unfinished QAT/PTQ run?)")
    model.eval()
    return LoadedModel(model, dict(cfg), dict(ck.meta))
