"""One module per command; each exposes ``register(app)``. Commands whose modules are missing are skipped."""

from __future__ import annotations

import importlib
from types import ModuleType

_NAMES = ("train", "evaluate", "export", "import_checkpoint", "convert", "parity", "info", "bench", "separate",
          "demo", "analyze")


def _load() -> list[ModuleType]:
    mods = []
    for name in _NAMES:
        try:
            mods.append(importlib.import_module(f"fqss_edge.cli.commands.{name}"))
        except ModuleNotFoundError as e:
            if e.name != f"fqss_edge.cli.commands.{name}":
                raise
    return mods


COMMAND_MODULES = _load()
