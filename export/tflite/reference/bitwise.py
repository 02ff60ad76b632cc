"""Integer operators of the exact PCM16 byte split / reconstruction: CAST, RIGHT_SHIFT, BITWISE_XOR."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel


@reference_kernel(B.CAST)
def cast(op: RefOp) -> np.ndarray:
    return op.inputs[0].astype(op.out.dtype)  # wraps like static_cast


@reference_kernel(B.RIGHT_SHIFT)
def right_shift(op: RefOp) -> np.ndarray:
    return (op.inputs[0].astype(np.int64) >> op.inputs[1].astype(np.int64)).astype(op.out.dtype)


@reference_kernel(B.BITWISE_XOR)
def bitwise_xor(op: RefOp) -> np.ndarray:
    return np.bitwise_xor(op.inputs[0], op.inputs[1]).astype(op.out.dtype)
