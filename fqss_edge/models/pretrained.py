"""``fqss-edge import``: a pretrained checkpoint in a layout users have -> our self-describing float checkpoint.

Sources:

* asteroid's model files (``torch.save(model.serialize())``: ``{"model_name", "state_dict", "model_args",
  "infos"}``) of ``ConvTasNet``, ``DPRNNTasNet`` and ``DPTNet``: the model config comes from ``model_args``
  (``fqss_edge/models/asteroid_args.py``), the tensors through the key mappings (``asteroid_keys.py``,
  ``asteroid_dualpath.py``);
* a plain state dict in ``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt`` (optionally under ``"state_dict"``; keys
  prefixed ``model.`` as asteroid's Lightning ``System`` saves them, or ``module.`` from DDP) or a foreign
  ``.safetensors``, in asteroid's, SpeechBrain's Sepformer (``encoder.*`` / ``masknet.*`` / ``decoder.*``,
  ``import_speechbrain.py``) or fqss-edge's naming: the model config comes from ``--config``.

Everything is read without running pickled code (``read_torch_file``). The result is what ``train --method
float`` writes: the float network's tensors and the run config (quant disabled), so ``train --method fqss
--teacher``, ``export`` and ``eval`` take it. Any problem is one ``FqssError`` naming the source, before anything
is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fqss_edge.checkpoint import (
    TORCH_SUFFIXES,
    load_checkpoint,
    read_torch_file,
    save_checkpoint,
    unwrap_state_dict,
)
from fqss_edge.config import RunConfig, parse_config
from fqss_edge.errors import FqssError
from fqss_edge.models.asteroid_args import (
    ASTEROID_MODELS,
    ASTEROID_NAMES,
    config_from_model_args,
)
from fqss_edge.models.asteroid_dualpath import (
    from_asteroid_dualpath,
    is_asteroid_dualpath_state,
)
from fqss_edge.models.asteroid_keys import from_asteroid, is_asteroid_state
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.factory import build_model
from fqss_edge.models.import_speechbrain import from_speechbrain, is_speechbrain_sepformer_state
from fqss_edge.models.size import check_model_size
from fqss_edge.quant.tools import count_parameters, load_network_state


@dataclass
class Source:
    """A pretrained checkpoint as read: its tensors and, for asteroid model files, its class and arguments."""

    path: Path
    state: dict[str, torch.Tensor]
    model_name: str | None = None  # asteroid's class name
    model_args: Mapping[str, Any] | None = None

    @property
    def asteroid_arch(self) -> str | None:
        """Our architecture for an asteroid-layout state dict, None for any other layout."""
        if is_asteroid_state(self.state):
            return "convtasnet"
        return is_asteroid_dualpath_state(self.state)


@dataclass
class ImportResult:
    path: Path
    architecture: str
    layout: str  # "asteroid ConvTasNet", "fqss-edge", ...
    config_from: str  # "model_args" or the --config file
    parameters: int


def read_source(path: str | Path) -> Source:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        ck = load_checkpoint(p)
        if ck.config:
            raise FqssError(f"{p}: already a fqss-edge checkpoint (use it directly)")
        return Source(p, _strip_prefix(ck.state_dict))
    if suffix not in TORCH_SUFFIXES:
        if not p.exists():
            raise FqssError(f"{p}: no such file")
        raise FqssError(f"{p}: not a checkpoint (expected a state dict in .safetensors or "
                        f"{'/'.join(TORCH_SUFFIXES)})")
    obj = read_torch_file(p)
    model_name = model_args = None
    if isinstance(obj, Mapping):
        model_name, model_args = obj.get("model_name"), obj.get("model_args")
    return Source(p, _strip_prefix(unwrap_state_dict(p, obj)), model_name, model_args)


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """asteroid's Lightning ``System`` holds the network as ``self.model``: its checkpoints' keys start ``model.``."""
    if all(k.startswith("model.") for k in state):
        return {k.removeprefix("model."): v for k, v in state.items()}
    return state


def _architecture(src: Source, arch: str | None, config: RunConfig | None) -> str:
    """The architecture, from the layout, asteroid's ``model_name``, ``--arch`` and ``--config``, which must agree."""
    layout = "sepformer" if is_speechbrain_sepformer_state(src.state) else src.asteroid_arch
    claims = {"the tensors": layout, "--arch": arch,
              "model_name": ASTEROID_MODELS.get(src.model_name) if isinstance(src.model_name, str) else None,
              "--config": config.model.name if config is not None else None}
    if isinstance(src.model_name, str) and src.model_name not in ASTEROID_MODELS:
        raise FqssError(f"{src.path}: asteroid model {src.model_name} is not supported (supported: "
                        f"{', '.join(ASTEROID_MODELS)})")
    known = {who: what for who, what in claims.items() if what is not None}
    if len(set(known.values())) > 1:
        claimed = ", ".join(f"{who}: {what}" for who, what in known.items())
        raise FqssError(f"{src.path}: the architecture is ambiguous ({claimed})")
    if not known:
        first = next(iter(src.state))
        raise FqssError(f"{src.path}: unknown layout (first tensor '{first}'): not an asteroid ConvTasNet / "
                        "DPRNNTasNet / DPTNet or SpeechBrain Sepformer state dict; for a fqss-edge state dict pass "
                        "--config CONFIG.yaml")
    return next(iter(known.values()))


def _run_config(src: Source, architecture: str, config: RunConfig | None) -> tuple[RunConfig, str]:
    """The run config to store (quant disabled) and where its model section came from."""
    base = (config or RunConfig()).model_dump(mode="json")
    if src.model_args is not None and src.asteroid_arch is not None:
        model = config_from_model_args(architecture, src.model_args, str(src.path))
        if config is not None:
            ours = config.model.model_dump(mode="json")
            for key, value in model.items():
                if ours.get(key) != value:
                    raise FqssError(f"{src.path}: model_args give {key}={value!r}, --config has model.{key}="
                                    f"{ours.get(key)!r}")
        where = "model_args"
    elif config is None:
        raise FqssError(f"{src.path}: carries no model_args (a bare state dict); pass --config CONFIG.yaml")
    else:
        model, where = base["model"], "--config"
    cfg = parse_config({**base, "model": model, "quant": {"enabled": False}}, f"{src.path} ({where})")
    check_model_size(cfg.model, str(src.path))
    return cfg, where


def _check_fit(model: SeparationModel, state: dict[str, torch.Tensor], names: dict[str, str], path: Path) -> None:
    """Every tensor has a place of its shape in ``model`` (``names``: our key -> the source's key)."""
    ours = model.state_dict()
    for key, value in state.items():
        theirs = names.get(key, key)
        if key not in ours:
            raise FqssError(f"{path}: unexpected tensor {theirs} (not a {model.config.name} of this configuration?)")
        if value.shape != ours[key].shape:
            raise FqssError(f"{path}: tensor {theirs} has shape {tuple(value.shape)}, the model needs "
                            f"{tuple(ours[key].shape)} (different hyper-parameters?)")


def _load_weights(model: SeparationModel, src: Source) -> str:
    """Copy the source's tensors into the float ``model``; the layout's name."""
    arch = src.asteroid_arch
    if is_speechbrain_sepformer_state(src.state):
        from_speechbrain(model, src.state, str(src.path))
        return "SpeechBrain Sepformer"
    if arch in ("dprnn", "dptnet"):
        from_asteroid_dualpath(model, src.state, str(src.path))
        return f"asteroid {ASTEROID_NAMES[arch]}"
    if arch == "convtasnet":
        try:
            renamed = from_asteroid(src.state)
        except KeyError as e:
            raise FqssError(f"{src.path}: {e.args[0]}") from None
        names = dict(zip(renamed, src.state))  # from_asteroid keeps the order
        layout = "asteroid ConvTasNet"
    else:
        renamed, names, layout = src.state, {}, "fqss-edge"
    _check_fit(model, renamed, names, src.path)
    try:
        load_network_state(model, renamed)
    except KeyError as e:
        raise FqssError(f"{src.path}: {e.args[0]} (not a {model.config.name} of this configuration?)") from None
    return layout


def import_checkpoint(source: str | Path, out: str | Path, config: RunConfig | None = None,
                      arch: str | None = None) -> ImportResult:
    """Read ``source`` (see the module docstring), write our float checkpoint to ``out`` (``.safetensors``)."""
    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        raise FqssError(f"{out}: the output is a .safetensors checkpoint (name it *.safetensors)")
    src = read_source(source)
    architecture = _architecture(src, arch, config)
    cfg, where = _run_config(src, architecture, config)
    model = build_model(cfg.model, None)
    layout = _load_weights(model, src)
    meta = {"method": "float", "imported_from": src.path.name, "layout": layout}
    save_checkpoint(out, model.state_dict(), cfg, meta)
    return ImportResult(out, architecture, layout, where, count_parameters(model))
