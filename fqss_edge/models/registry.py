"""The architectures fqss-edge knows: name -> (typed config class, model class).

``fqss_edge/models/__init__.py`` registers each architecture once (an explicit list); the run config's ``model``
section is a union of the registered config classes, discriminated by ``model.name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fqss_edge.config_types import ModelConfigBase
from fqss_edge.errors import FqssError
from fqss_edge.models.base import SeparationModel


@dataclass(frozen=True)
class Architecture:
    name: str
    config: type[ModelConfigBase]
    model: type[SeparationModel]

    def smoke_config(self, **changes: Any) -> ModelConfigBase:
        """The smallest useful configuration of the architecture (unit tests, smoke runs)."""
        return self.config(**{**self.model.smoke_config, **changes})


ARCHITECTURES: dict[str, Architecture] = {}


_frozen = False  # set once the run config's union of model configs is built (fqss_edge.config)


def freeze() -> None:
    global _frozen
    _frozen = True


def register_architecture(model: type[SeparationModel]) -> type[SeparationModel]:
    if _frozen:
        raise RuntimeError(f"{model.__name__}: register architectures in fqss_edge/models/__init__.py (the run "
                           f"config's model union is built when fqss_edge.config is first imported)")
    for attr in ("config_class", "input_layer", "smoke_config"):
        if not hasattr(model, attr):
            raise TypeError(f"{model.__name__} must set {attr} (see docs/adding_a_model.md)")
    cfg = model.config_class
    name = cfg.model_fields["name"].default
    if not isinstance(name, str):
        raise TypeError(f"{cfg.__name__}.name needs a default (the architecture's name)")
    if name in ARCHITECTURES:
        raise ValueError(f"architecture {name!r} is already registered ({ARCHITECTURES[name].model.__name__})")
    ARCHITECTURES[name] = Architecture(name, cfg, model)
    return model


def architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise FqssError(f"unknown architecture {name!r} (registered: {', '.join(sorted(ARCHITECTURES))})") from None
