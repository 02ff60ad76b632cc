"""Emitter registry: one function per quantized layer type writes that layer's ONNX nodes.

An emitter is ``fn(b: GraphBuilder, module, name: str, *inputs: TensorRef) -> TensorRef``; it is registered
for exact module classes with ``@register(QConv1d)``. A duplicate registration raises, and a module without
an emitter fails loudly with the module's name (never a silent fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from fqss_edge.errors import FqssError

Emitter = Callable[..., Any]
_EMITTERS: dict[type[nn.Module], Emitter] = {}


def register(*classes: type[nn.Module]) -> Callable[[Emitter], Emitter]:
    def deco(fn: Emitter) -> Emitter:
        for cls in classes:
            if cls in _EMITTERS:
                raise ValueError(f"an ONNX emitter for {cls.__name__} is already registered "
                                 f"({_EMITTERS[cls].__name__})")
            _EMITTERS[cls] = fn
        return fn

    return deco


def emitter_for(module: nn.Module, name: str) -> Emitter:
    fn = _EMITTERS.get(type(module))
    if fn is None:
        raise FqssError(f"ONNX export: no emitter for {type(module).__name__} ({name or 'model'}); "
                        f"supported: {', '.join(supported())}")
    return fn


def emit(b: Any, module: nn.Module, name: str, *inputs: Any) -> Any:
    """Write ``module`` (called ``name`` in the model) into the graph; returns its output ``TensorRef``."""
    return emitter_for(module, name)(b, module, name, *inputs)


def supported() -> list[str]:
    return sorted(cls.__name__ for cls in _EMITTERS)


def child(name: str, attr: str) -> str:
    """Module path of a child: ``child("masker", "norm") == "masker.norm"``."""
    return f"{name}.{attr}" if name else attr
