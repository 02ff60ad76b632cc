"""Emitter registry: one function per quantized layer type writes that layer's ONNX nodes.

An emitter is ``fn(b: GraphBuilder, module, name: str, *inputs: TensorRef) -> TensorRef``; it is registered
for exact module classes with ``@register(QConv1d)``. A duplicate registration raises, and a module without
an emitter fails loudly with the module's name (never a silent fallback). The module types with an emitter are
the *leaves* of the traced model (``export/onnx/trace.py``): every other module is traversed.

A registration also declares what the QDQ verifier needs to know about the layer, so that a new layer brings its
declarations in its own emitter file:

* ``constants(module, name)``: the quantized constants the layer writes, ``{initializer name: ExpectedConst}``
  (its weights, as the checkpoint holds them);
* ``activations(module, name)``: quantized tensors the layer writes with parameters of its own rather than a
  quantizer module's, ``{tensor name: QParams}`` (the splitter's fixed bytes);
* ``bias_ops``: ONNX op types whose third input is an int32 bias with scale ``s_in * s_w`` (``Conv``);
* ``composites``: ``(producer, consumer)`` op types written as one quantized op, the float edge between them
  allowed (``("Sqrt", "Reciprocal")``: RSQRT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from fqss_edge.errors import FqssError

Emitter = Callable[..., Any]
Declare = Callable[[Any, str], dict[str, Any]]  # (module, its path in the model) -> {tensor name: expectation}


@dataclass(frozen=True)
class Registration:
    emit: Emitter
    constants: Declare | None = None
    activations: Declare | None = None
    bias_ops: tuple[str, ...] = ()
    composites: tuple[tuple[str, str], ...] = ()


_REGISTRY: dict[type[nn.Module], Registration] = {}


def register(*classes: type[nn.Module], constants: Declare | None = None, activations: Declare | None = None,
             bias_ops: tuple[str, ...] = (), composites: tuple[tuple[str, str], ...] = ()
             ) -> Callable[[Emitter], Emitter]:
    def deco(fn: Emitter) -> Emitter:
        for cls in classes:
            if cls in _REGISTRY:
                raise ValueError(f"an ONNX emitter for {cls.__name__} is already registered "
                                 f"({_REGISTRY[cls].emit.__name__})")
            _REGISTRY[cls] = Registration(fn, constants, activations, tuple(bias_ops), tuple(composites))
        return fn

    return deco


def registration(module: nn.Module) -> Registration | None:
    """The registration of ``module``'s exact class (None: not a leaf, the tracer traverses it)."""
    return _REGISTRY.get(type(module))


def emitter_for(module: nn.Module, name: str) -> Emitter:
    reg = registration(module)
    if reg is None:
        raise FqssError(f"ONNX export: no emitter for {type(module).__name__} ({name or 'model'}); "
                        f"supported: {', '.join(supported())}")
    return reg.emit


def emit(b: Any, module: nn.Module, name: str, *inputs: Any) -> Any:
    """Write ``module`` (called ``name`` in the model) into the graph; returns its output ``TensorRef``."""
    return emitter_for(module, name)(b, module, name, *inputs)


def supported() -> list[str]:
    return sorted(cls.__name__ for cls in _REGISTRY)


def declared_bias_ops() -> frozenset[str]:
    return frozenset(op for reg in _REGISTRY.values() for op in reg.bias_ops)


def declared_composites() -> frozenset[tuple[str, str]]:
    return frozenset(pair for reg in _REGISTRY.values() for pair in reg.composites)


def child(name: str, attr: str) -> str:
    """Module path of a child: ``child("masker", "norm") == "masker.norm"``."""
    return f"{name}.{attr}" if name else attr
