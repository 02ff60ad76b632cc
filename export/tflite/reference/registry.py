"""The reference kernels, keyed by TFLite builtin operator.

    @reference_kernel(B.ADD, B.SUB)
    def add_sub(op: RefOp) -> np.ndarray: ...

A kernel is a numpy re-implementation of LiteRT's BUILTIN_REF kernel of that builtin (and of the multipliers
its Prepare computes); it must agree with it exactly. It reads the operator through ``RefOp`` and returns the
output array. A duplicate registration raises ``ValueError``; a builtin without a kernel raises ``FqssError``
naming the operator.

Kernels compute integer tensors. Those that only move data, or convert at the float32 edges of an integer
model (QUANTIZE from float32, DEQUANTIZE), and the float32 MAXIMUM, RSQRT and ADD of the float islands (exact
there: ``ops/_float_island.py`` checks that no float32 rounding can change their output codes), say
``float32=True``; any other kernel refuses float32 tensors:
a float32 .tflite is checked against onnxruntime (``tests/export/tflite/test_ops_float.py``), not here,
since float kernels are not bit-reproducible (accumulation order, libm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import operator_name
from fqss_edge.export.tflite.reference.tensor import Tensor


@dataclass(frozen=True)
class RefOp:
    """One operator as a kernel sees it: builtin code, builtin options, input arrays and tensors, output tensor.
    Absent optional inputs are ``None`` in both lists."""

    code: int
    options: Any
    inputs: list[np.ndarray | None]
    tensors: list[Tensor | None]
    out: Tensor
    intermediates: tuple[Tensor, ...] = ()  # the operator's intermediate tensors (LSTM: their quantization)

    @property
    def name(self) -> str:
        return operator_name(self.code)

    def optional(self, i: int) -> Tensor | None:
        """Input tensor ``i``, or None when the operator has fewer inputs (or input ``i`` is absent)."""
        return self.tensors[i] if len(self.tensors) > i else None


KernelFn = Callable[[RefOp], np.ndarray]


@dataclass(frozen=True)
class Kernel:
    code: int
    fn: KernelFn
    float32: bool  # also exact on float32 tensors (data movement, float32 <-> integer conversion)

    def __call__(self, op: RefOp) -> np.ndarray:
        if not self.float32 and any(t is not None and t.dtype == np.float32 for t in [op.out, *op.tensors]):
            raise FqssError(f"reference: {op.name} on float32 tensors ({op.out.name}): the integer reference runs "
                            "integer models only (float32 files are checked against onnxruntime)")
        return self.fn(op)


KERNELS: dict[int, Kernel] = {}


def reference_kernel(*codes: int, float32: bool = False) -> Callable[[KernelFn], KernelFn]:
    """Register ``fn`` as the reference kernel of the builtins ``codes``."""

    def deco(fn: KernelFn) -> KernelFn:
        for code in codes:
            if code in KERNELS:
                prev = KERNELS[code].fn
                raise ValueError(f"a reference kernel for {operator_name(code)} is already registered "
                                 f"({prev.__module__}.{prev.__name__})")
            KERNELS[code] = Kernel(code, fn, float32)
        return fn

    return deco


def kernel_for(code: int) -> Kernel:
    kernel = KERNELS.get(code)
    if kernel is None:
        raise FqssError(f"reference: operator {operator_name(code)} is not implemented")
    return kernel
