"""RELU, LEAKY_RELU, LOGISTIC, TANH and RSQRT of a quantized tensor (fixed-point multipliers, or the lookup tables
TFLite fills at Prepare time)."""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import (
    inv_sqrt_quantized_multiplier_exp, lut_int8, lut_int16, lut_int16_lookup, mbqm, quantize_leaky_relu)
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import Tensor, f32, qm, saturate


@reference_kernel(B.RELU)
def relu(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    m, s = qm(float(f32(inp.s) / f32(out.s)))
    return saturate(mbqm(x.astype(np.int64) - inp.z, m, s) + out.z, out, out.z)


@reference_kernel(B.LEAKY_RELU)
def leaky_relu(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    return saturate(quantize_leaky_relu(x, inp.s, inp.z, out.s, out.z, op.options.alpha), out)


@reference_kernel(B.LOGISTIC)
def logistic(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    if inp.dtype != np.int8:
        raise FqssError("reference: only int8 LOGISTIC is implemented")
    lut = lut_int8(lambda v: (f32(1) / (f32(1) + np.exp(-v))).astype(np.float32), inp.s, inp.z, out.s, out.z)
    return lut[x.astype(np.int32) + 128]


@reference_kernel(B.TANH)
def tanh(op: RefOp) -> np.ndarray:
    """int8: the 256-entry table TanhPrepare fills with std::tanh in float32 (reference and generic kernels)."""
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    if inp.dtype != np.int8:
        raise FqssError("reference: only int8 TANH is implemented")
    lut = lut_int8(lambda v: np.tanh(v).astype(np.float32), inp.s, inp.z, out.s, out.z)
    return lut[x.astype(np.int32) + 128]


@reference_kernel(B.RSQRT, float32=True)
def rsqrt(op: RefOp) -> np.ndarray:
    """int8 / int16 RSQRT; float32 only inside the int8 RSQRT island (``ops/rsqrt.py``), whose export checks that
    the float32 rounding of 1/sqrt cannot change an output code: ``1.f / std::sqrt(x)`` as TFLite's kernel."""
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    if inp.dtype == np.float32:
        return (np.float32(1) / np.sqrt(x.astype(np.float32))).astype(np.float32)
    if inp.dtype == np.int16:
        return _rsqrt_int16(x, inp, out)
    if np.any(x.astype(np.int32) < inp.z):
        raise FqssError("reference: RSQRT of a negative value")
    return _rsqrt_int8_table(inp, out)[x.astype(np.int32) + 128]


def _rsqrt_int16(x: np.ndarray, inp: Tensor, out: Tensor) -> np.ndarray:
    """int16: the 513-entry interpolated table of 1/sqrt (0 and below: the largest output)."""
    os_ = f32(out.s)

    def f(v):
        v = f32(v)
        return f32(32767) * os_ if v <= 0 else f32(1) / np.sqrt(v)

    return lut_int16_lookup(x, lut_int16(f, inp.s, inp.z, out.s, out.z))


def _rsqrt_int8_table(inp: Tensor, out: Tensor) -> np.ndarray:
    """int8: GetInvSqrtQuantizedMultiplierExp of every input code, then the output multiplier."""
    m, s = qm(1.0 / float(np.sqrt(f32(inp.s)) * f32(out.s)))
    table = np.zeros(256, dtype=np.int8)
    for v in range(-128, 128):
        value = v - inp.z
        if value < 0:
            continue
        if value == 0:
            table[v + 128] = 127
            continue
        im, ish = inv_sqrt_quantized_multiplier_exp(value)
        data = int(mbqm(np.int64(1), im, ish + 20))
        o = int(mbqm(np.int64(data), m, s - 20)) + out.z
        table[v + 128] = min(max(o, -128), 127)
    return table


@reference_kernel(B.PRELU)
def prelu(op: RefOp) -> np.ndarray:
    """int8 PRELU (reference_ops::BroadcastPrelu4DSlow): x >= 0 at s_x / s_y, else (x - z_x)(a - z_a) at
    s_x s_a / s_y; alpha broadcast against the input."""
    x, a = op.inputs[0], op.inputs[1]
    inp, alpha, out = op.tensors[0], op.tensors[1], op.out
    if inp.dtype != np.int8:
        raise FqssError("reference: only int8 PRELU is implemented")
    m1, s1 = qm(float(f32(inp.s) / f32(out.s)))
    m2, s2 = qm(float(f32(inp.s) * f32(alpha.s) / f32(out.s)))
    v = x.astype(np.int64) - inp.z
    av = np.broadcast_to(a.astype(np.int64) - alpha.z, v.shape)
    return saturate(np.where(v >= 0, mbqm(v, m1, s1), mbqm(v * av, m2, s2)) + out.z, out)
