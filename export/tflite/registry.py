"""Operator registry: one converter per ONNX-QDQ pattern, keyed by the ONNX op type of its anchor node.

A converter is ``fn(ctx: ConvertContext, node: onnx.NodeProto) -> None``; it reads its quantized inputs
through ``ctx`` (the DequantizeLinear in front of each), claims the QuantizeLinear behind its output and
emits TFLite operators. It declares what it accepts (TFLite builtin, bit widths, constraints), which
``python -m fqss_edge.export.tflite.docs`` turns into ``docs/operators.md``.

A duplicate registration raises ``ValueError``; a node without a converter raises ``FqssError`` naming the
node and its op type (never a silent float fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fqss_edge.errors import FqssError

Converter = Callable[[Any, Any], None]


@dataclass(frozen=True)
class OpSpec:
    op_type: str  # ONNX op type of the anchor node (or "island:<name>" for a declared I/O island)
    fn: Converter
    tflite: str  # TFLite builtin(s) written
    bits: tuple[int, ...]  # accepted activation bit widths
    pattern: str  # the ONNX pattern matched
    constraints: str = ""


_REGISTRY: dict[str, OpSpec] = {}


def register(*op_types: str, tflite: str, bits: tuple[int, ...] = (8,), pattern: str = "",
             constraints: str = "") -> Callable[[Converter], Converter]:
    """Register ``fn`` as the converter of ``op_types`` (ONNX op types, or ``island:<name>``)."""

    def deco(fn: Converter) -> Converter:
        for op_type in op_types:
            if op_type in _REGISTRY:
                raise ValueError(f"a TFLite converter for {op_type} is already registered "
                                 f"({_REGISTRY[op_type].fn.__module__}.{_REGISTRY[op_type].fn.__name__})")
            _REGISTRY[op_type] = OpSpec(op_type, fn, tflite, tuple(bits), pattern or f"DQ -> {op_type} -> Q",
                                        constraints)
        return fn

    return deco


def unregister(op_type: str) -> None:
    """Remove a registration (tests only)."""
    _REGISTRY.pop(op_type, None)


def lookup(op_type: str, node_name: str) -> OpSpec:
    spec = _REGISTRY.get(op_type)
    if spec is None:
        raise FqssError(f"TFLite export: node {node_name!r} (op type {op_type}) has no int8 converter; "
                        f"supported op types: {', '.join(supported())}")
    return spec


def supported() -> list[str]:
    return sorted(k for k in _REGISTRY if not k.startswith("island:"))


def specs() -> list[OpSpec]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
