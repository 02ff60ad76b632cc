"""Load a separation model from a self-describing checkpoint."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fqss_edge.checkpoint import Checkpoint, load_checkpoint
from fqss_edge.config import RunConfig, parse_config
from fqss_edge.errors import FqssError, FqssWarning
from fqss_edge.fingerprint import checkpoint_fingerprint
from fqss_edge.models.asteroid_dualpath import from_asteroid_dualpath, is_asteroid_dualpath_state
from fqss_edge.models.asteroid_keys import from_asteroid, is_asteroid_state
from fqss_edge.models.import_speechbrain import from_speechbrain, is_speechbrain_sepformer_state
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.factory import build_model
from fqss_edge.models.size import check_model_size
from fqss_edge.quant.revision import stale_changes
from fqss_edge.quant.tools import load_network_state, uncalibrated


@dataclass
class LoadedModel:
    model: SeparationModel
    config: RunConfig  # the run config: model, quant, train, data
    meta: dict[str, Any]
    fingerprint: str = ""  # of the loaded tensors and the model/quant config (fqss_edge.fingerprint)

    @property
    def quantized(self) -> bool:
        return bool(self.config.quant.enabled)

    @property
    def sample_rate(self) -> int:
        return int(self.config.model.sample_rate)


def checkpoint_config(ck: Checkpoint, path: str | Path, config: RunConfig | dict | None = None) -> RunConfig:
    """The typed run config a checkpoint carries (validated: a bad value names the file and the key), or
    ``config`` for bare state dicts (a mapping is validated too). An embedded config without a quant section is a
    float model's (as checkpoints saved by other tools carry it), not the quant defaults (FQSS)."""
    if ck.config:
        if "model" not in ck.config:
            raise FqssError(f"{path}: checkpoint config has no model section")
        embedded = dict(ck.config)
        if embedded.get("quant") is None:
            embedded["quant"] = {"enabled": False}
        source = f"{path} (embedded config)"
        cfg = parse_config(embedded, source)
    elif config is None:
        raise FqssError(f"{path}: checkpoint carries no model config; pass --config CONFIG.yaml")
    else:
        source = "config"
        cfg = config if isinstance(config, RunConfig) else parse_config(config, source)
    check_model_size(cfg.model, source)
    return cfg


def load_model(path: str | Path, config: RunConfig | dict | None = None) -> LoadedModel:
    """Build the model its checkpoint describes and load its tensors (eval mode).

    ``config`` is needed only for bare state dicts (FQSS-style ``.pth``) that carry no config."""
    ck = load_checkpoint(path)
    cfg = checkpoint_config(ck, path, config)
    model = build_model(cfg.model, cfg.quant, str(path))  # disabled quant: the float model, quantizers as saved
    state = ck.state_dict
    try:
        if is_asteroid_dualpath_state(state):
            from_asteroid_dualpath(model, state, str(path))
        elif is_speechbrain_sepformer_state(state):
            from_speechbrain(model, state, str(path))
        else:
            load_network_state(model, from_asteroid(state) if is_asteroid_state(state) else state)
    except (KeyError, RuntimeError) as e:
        raise FqssError(f"{path}: tensors do not fit the model config ({str(e).splitlines()[0]})") from None
    missing = uncalibrated(model)
    if missing:
        raise FqssError(f"{path}: quantizer {missing[0]} was never calibrated (unfinished QAT/PTQ run?)")
    model.eval()
    if cfg.quant.enabled and "quant_revision" in ck.meta:
        changed = stale_changes(model, ck.meta["quant_revision"])
        if changed:
            warnings.warn(f"{path}: written by an older fqss-edge whose quantized layers computed differently ("
                          f"{'; '.join(changed)}); it runs, but measure its accuracy again or run a few QAT steps "
                          "from it", FqssWarning, stacklevel=2)
    fingerprint = checkpoint_fingerprint(model.state_dict(), cfg.model.model_dump(mode="json"),
                                         cfg.quant.model_dump(mode="json"))
    return LoadedModel(model, cfg, dict(ck.meta), fingerprint)
