"""ADD, SUB, MUL, MAXIMUM and MINIMUM of two quantized tensors (numpy broadcasting, as TFLite's broadcast kernels)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import mbqm, mbqm_smaller_than_one
from fqss_edge.export.tflite.reference.conv import fused_range
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import f32, qm, saturate


@reference_kernel(B.ADD, B.SUB, float32=True)
def add_sub(op: RefOp) -> np.ndarray:
    """int8 / int16; float32 only inside a float island (``ops/_float_island.py``), exact there: one float32
    rounding, as TFLite's kernel."""
    (a, b), (ta, tb), out = op.inputs[:2], op.tensors[:2], op.out
    sign = 1 if op.code == B.ADD else -1
    if ta.dtype == np.float32:
        return (a.astype(np.float32) + np.float32(sign) * b.astype(np.float32)).astype(np.float32)
    left = 15 if out.dtype == np.int16 else 20
    twice_max = 2.0 * max(float(ta.s), float(tb.s))
    m1, s1 = qm(float(ta.s) / twice_max)
    m2, s2 = qm(float(tb.s) / twice_max)
    mo, so = qm(twice_max / ((1 << left) * float(out.s)))
    x1 = (a.astype(np.int64) - ta.z) << left
    x2 = (b.astype(np.int64) - tb.z) << left
    raw = mbqm_smaller_than_one(x1, m1, s1) + sign * mbqm_smaller_than_one(x2, m2, s2)
    return saturate(mbqm(raw, mo, so) + out.z, out, *fused_range(op.options, out))


@reference_kernel(B.MUL, float32=True)
def mul(op: RefOp) -> np.ndarray:
    """int8 / int16; float32 only inside a float island (its nudge, ``ops/_float_island.py``: the RSQRT and the
    variance + eps islands), exact there: one float32 rounding, as TFLite's kernel."""
    (a, b), (ta, tb), out = op.inputs[:2], op.tensors[:2], op.out
    if ta.dtype == np.float32:
        return (a.astype(np.float32) * b.astype(np.float32)).astype(np.float32)
    m, s = qm(float(f32(ta.s) * f32(tb.s) / f32(out.s)))
    prod = (a.astype(np.int64) - ta.z) * (b.astype(np.int64) - tb.z)
    return saturate(mbqm(prod, m, s) + out.z, out, *fused_range(op.options, out))


@reference_kernel(B.MAXIMUM, B.MINIMUM, float32=True)
def maximum_minimum(op: RefOp) -> np.ndarray:
    """Compares the codes as they are (maximum_minimum.cc reads no quantization: the writer gives both operands
    and the output one quantization); float32 values likewise (exact: the int8 RSQRT island's clamp)."""
    (a, b), out = op.inputs[:2], op.out
    fn = np.maximum if op.code == B.MAXIMUM else np.minimum
    return fn(a, b).astype(out.dtype)
