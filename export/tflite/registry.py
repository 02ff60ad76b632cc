"""Operator registries: one converter per ONNX pattern, keyed by the ONNX op type of its anchor node.

Two registries, never mixed: ``INT8`` (QDQ ONNX -> integer-only TFLite, converters under ``ops/``) and
``FLOAT32`` (plain float ONNX -> float32 TFLite, converters under ``ops_float/``). The module-level
``register`` / ``lookup`` / ``supported`` / ``specs`` / ``unregister`` are the int8 registry's; the float
converters register with ``register_float``.

An int8 converter is ``fn(ctx: ConvertContext, node: onnx.NodeProto) -> None``; it reads its quantized inputs
through ``ctx`` (the DequantizeLinear in front of each), claims the QuantizeLinear behind its output and
emits TFLite operators. A float converter is ``fn(ctx: FloatContext, node) -> None``. Each declares what it
accepts (bit widths, pattern, constraints), which ``python -m fqss_edge.export.tflite.docs`` turns into
``docs/operators.md``, and what ties it to the rest of its operator:

* ``writes``: every TFLite builtin it can emit. Each one an int8 converter writes needs a reference kernel
  (``reference/``, ``@reference_kernel``).
* its twin: the converter of the same op type in the other registry (an int8 converter's float32 form, a float
  converter's int8 form), or ``no_twin="why"`` when there is none by design.

``tests/export/tflite/test_operator_units.py`` holds every converter to this (kernels, twins, a one-node case
in ``tests/export/tflite/op_cases.py``, ``writes`` matching what its cases write).

A duplicate registration raises ``ValueError``; a node without a converter raises ``FqssError`` naming the
node and its op type (never a silent fallback to the other registry or to float kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import operator_name

Converter = Callable[[Any, Any], None]


@dataclass(frozen=True)
class OpSpec:
    op_type: str  # ONNX op type of the anchor node (or "island:<name>" for a declared I/O island)
    fn: Converter
    writes: tuple[int, ...]  # every TFLite builtin the converter can emit
    tflite: str  # what it writes, for the docs
    bits: tuple[int, ...]  # accepted activation bit widths (32 for the float32 registry)
    pattern: str  # the ONNX pattern matched
    constraints: str = ""
    no_twin: str = ""  # why there is no converter of this op type in the other registry ("": there is one)
    absorbs: tuple[str, ...] = ()  # op types of the next node that the converter converts with its own (Reciprocal)


class Registry:
    """The converters of one precision (``kind``: "int8" or "float32")."""

    def __init__(self, kind: str, default_bits: tuple[int, ...], default_pattern: str):
        self.kind = kind
        self.default_bits = default_bits
        self.default_pattern = default_pattern  # formatted with {op}
        self._specs: dict[str, OpSpec] = {}

    def register(self, *op_types: str, writes: tuple[int, ...], tflite: str = "", bits: tuple[int, ...] | None = None,
                 pattern: str = "", constraints: str = "", no_twin: str = "", absorbs: tuple[str, ...] = ()
                 ) -> Callable[[Converter], Converter]:
        """Register ``fn`` as the converter of ``op_types`` (ONNX op types, or ``island:<name>``). ``tflite``
        describes what is written (default: the names of ``writes``)."""
        unknown = [c for c in writes if operator_name(c) == str(c)]
        if not writes or unknown:
            raise ValueError(f"converter of {', '.join(op_types)}: writes must list TFLite builtins, got {writes}")

        def deco(fn: Converter) -> Converter:
            for op_type in op_types:
                if op_type in self._specs:
                    prev = self._specs[op_type].fn
                    raise ValueError(f"a TFLite converter ({self.kind}) for {op_type} is already registered "
                                     f"({prev.__module__}.{prev.__name__})")
                self._specs[op_type] = OpSpec(op_type, fn, tuple(writes),
                                              tflite or ", ".join(operator_name(c) for c in writes),
                                              tuple(bits or self.default_bits),
                                              pattern or self.default_pattern.format(op=op_type), constraints, no_twin,
                                              tuple(absorbs))
            return fn

        return deco

    def unregister(self, op_type: str) -> None:
        """Remove a registration (tests only)."""
        self._specs.pop(op_type, None)

    def lookup(self, op_type: str, node_name: str) -> OpSpec:
        spec = self._specs.get(op_type)
        if spec is None:
            raise FqssError(f"TFLite export: node {node_name!r} (op type {op_type}) has no {self.kind} converter; "
                            f"supported op types: {', '.join(self.supported())}")
        return spec

    def get(self, op_type: str) -> OpSpec | None:
        return self._specs.get(op_type)

    def supported(self) -> list[str]:
        return sorted(k for k in self._specs if not k.startswith("island:"))

    def specs(self) -> list[OpSpec]:
        return [self._specs[k] for k in sorted(self._specs)]


INT8 = Registry("int8", (8,), "DQ -> {op} -> Q")
FLOAT32 = Registry("float32", (32,), "{op}")

register = INT8.register
unregister = INT8.unregister
lookup = INT8.lookup
supported = INT8.supported
specs = INT8.specs
register_float = FLOAT32.register


def twin(spec: OpSpec) -> OpSpec | None:
    """The converter of the same op type in the other registry (an int8 converter's float32 form, or the
    reverse), None if there is none."""
    other = FLOAT32 if INT8.get(spec.op_type) is spec else INT8
    return other.get(spec.op_type)
