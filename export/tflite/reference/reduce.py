"""MEAN of a quantized tensor: TFLite's int32 sum (it wraps), then one requantization by s_in / (n s_out)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import mbqm, wrap32
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import qm, saturate


@reference_kernel(B.MEAN)
def mean(op: RefOp) -> np.ndarray:
    x, inp, out = op.inputs[0], op.tensors[0], op.out
    axes = tuple(sorted({int(a) % x.ndim for a in op.inputs[1].reshape(-1)}))
    n = int(np.prod([x.shape[a] for a in axes]))
    total = wrap32(np.sum(x.astype(np.int64), axis=axes, keepdims=True))  # int32 accumulator
    m, s = qm(float(inp.s) / float(out.s))
    shift = min(n.bit_length() - 1, 32, 31 + s)
    m = (m << shift) // n
    s = s - shift
    shifted = wrap32(total - inp.z * n)
    return saturate(mbqm(shifted, m, s) + out.z, out)
