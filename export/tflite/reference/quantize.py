"""QUANTIZE (float32 -> int, or a requantization int -> int) and DEQUANTIZE (int -> float32): the conversions
at the edges of an integer model and between its int8 / int16 tensors."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import mbqm, np_round_away
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import f32, qm, saturate


@reference_kernel(B.QUANTIZE, float32=True)
def quantize(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    if x.dtype == np.float32:  # round half away from zero, in float32
        return saturate(np_round_away((x / f32(out.s)).astype(np.float32)).astype(np.int64) + out.z, out)
    m, s = qm(float(inp.s) / float(out.s))
    return saturate(mbqm(x.astype(np.int64) - inp.z, m, s) + out.z, out)


@reference_kernel(B.DEQUANTIZE, float32=True)
def dequantize(op: RefOp) -> np.ndarray:
    x, inp = op.inputs[0], op.tensors[0]
    return (np.float64(inp.s) * (x.astype(np.float64) - inp.z)).astype(np.float32)
