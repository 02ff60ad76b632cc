"""FULLY_CONNECTED of int8 tensors, as BUILTIN_REF runs it (tflite/kernels/fully_connected.cc, kReference: the
``reference_integer_ops::FullyConnected`` / ``FullyConnectedPerChannel`` overloads that take the scales as floats
and requantize in double, ``round(acc * (double(s_in) * double(s_w) / double(s_out)))``, not with a fixed-point
multiplier as the optimised kernels do): the input flattened to ``[batch, K]``, int8 weights ``[N, K]`` (per tensor,
or per output channel with quantized_dimension 0), an int32 bias."""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.reference.conv import fused_range
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import saturate


def c_round(v: np.ndarray) -> np.ndarray:
    """C's round() on doubles: half away from zero (v - trunc(v) is exact)."""
    whole = np.trunc(v)
    return whole + np.sign(v) * (np.abs(v - whole) >= 0.5)


@reference_kernel(B.FULLY_CONNECTED)
def fully_connected(op: RefOp) -> np.ndarray:
    x, (inp, filt), bias, out = op.inputs[0], op.tensors[:2], op.optional(2), op.out
    if x.dtype != np.int8 or filt.dtype != np.int8 or out.dtype != np.int8:
        raise FqssError("reference: only int8 FULLY_CONNECTED (int8 weights) is implemented")
    wq = filt.data.astype(np.float64)  # [N, K]
    n_out, k = wq.shape
    xo = (x.astype(np.int64).reshape(-1, k) - inp.z).astype(np.float64)
    acc = (xo @ wq.T).astype(np.int64)  # exact: |sums| < 2^53
    if bias is not None:
        acc = acc + bias.data.astype(np.int64).reshape(-1)
    s_w = filt.scale.astype(np.float64) if filt.scale.size == n_out else np.repeat(np.float64(filt.s), n_out)
    effective = np.float64(inp.s) * s_w / np.float64(out.s)
    y = saturate(c_round(acc.astype(np.float64) * effective).astype(np.int64) + out.z, out,
                 *fused_range(op.options, out))
    shape = x.shape[:-1] + (n_out,) if op.options.keepNumDims else (acc.shape[0], n_out)
    return y.reshape(shape)
