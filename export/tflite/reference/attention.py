"""BATCH_MATMUL and SOFTMAX of int8 tensors (tflite/kernels/internal/reference/batch_matmul.h and softmax.h:
the gemmlowp fixed-point softmax that BUILTIN_REF runs; the optimised kernels use a float lookup table)."""

from __future__ import annotations

import math

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import (
    exp_on_negative_values, quantize_multiplier, rdbpot, reciprocal, srdhm, wrap32)
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import f32, qm, requant_out

_SCALED_DIFF_INTEGER_BITS = 5  # Q5.26 input of exp()
_ACCUMULATION_INTEGER_BITS = 12  # Q12.19 sum of exps


@reference_kernel(B.BATCH_MATMUL)
def batch_matmul(op: RefOp) -> np.ndarray:
    (a, b), (ta, tb), out = op.inputs[:2], op.tensors[:2], op.out
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise FqssError("reference: only int8 BATCH_MATMUL is implemented")
    x = a.astype(np.int64) - ta.z
    y = b.astype(np.int64) - tb.z
    if op.options is not None and op.options.adjX:
        x = np.swapaxes(x, -1, -2)
    if op.options is not None and op.options.adjY:
        y = np.swapaxes(y, -1, -2)
    m, s = qm(float(f32(ta.s) * f32(tb.s)) / float(out.s))  # GetQuantizedConvolutionMultipler: float32 product
    return requant_out(wrap32(np.matmul(x, y)), m, s, out)


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """(input multiplier, left shift, diff_min) of SoftmaxPrepare for the reference kernel."""
    real = min(float(beta) * float(input_scale) * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)  # QuantizeMultiplierGreaterThanOne
    radius = math.floor(((1 << _SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - _SCALED_DIFF_INTEGER_BITS))
                        / (1 << shift))
    return mult, shift, -radius


@reference_kernel(B.SOFTMAX)
def softmax(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    if x.dtype != np.int8 or out.dtype != np.int8:
        raise FqssError("reference: only int8 SOFTMAX is implemented")
    beta = op.options.beta if op.options is not None else 1.0
    mult, shift, diff_min = softmax_params(inp.s, beta)
    v = x.astype(np.int64)
    diff = v - v.max(axis=-1, keepdims=True)
    used = diff >= diff_min
    rescaled = srdhm(wrap32(np.where(used, diff, 0) << shift), mult)  # MultiplyByQuantizedMultiplierGreaterThanOne
    exps = exp_on_negative_values(rescaled, _SCALED_DIFF_INTEGER_BITS)
    total = wrap32(np.where(used, rdbpot(exps, _ACCUMULATION_INTEGER_BITS), 0).sum(axis=-1, keepdims=True))
    scale, bits_over_unit = reciprocal(total, _ACCUMULATION_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8
    if np.any(exponent < 0) or np.any(exponent > 31):
        raise FqssError("reference: SOFTMAX exponent out of range")
    y = rdbpot(srdhm(scale, exps), exponent) - 128
    y = np.where(used, np.clip(y, -128, 127), -128)
    return y.astype(np.int8)
