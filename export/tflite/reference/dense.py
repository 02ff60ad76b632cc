"""FULLY_CONNECTED of int8 tensors (tflite/kernels/internal/reference/integer_ops/fully_connected.h): the input
flattened to ``[batch, K]``, int8 weights ``[N, K]`` (per tensor, or per output channel with
quantized_dimension 0), an int32 bias, one requantization per output channel."""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.reference.conv import fused_range, per_channel
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.reference.tensor import f32, qm, requant_out


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
    if filt.scale.size > 1:  # per channel: double(s_in) * double(s_w) / s_out
        m, sh = per_channel(inp, filt, out, n_out)
    else:  # GetQuantizedConvolutionMultipler: the float32 product s_in * s_w
        m, sh = qm(float(f32(inp.s) * f32(filt.s)) / float(out.s))
    y = requant_out(acc, m, sh, out, *fused_range(op.options, out))
    shape = x.shape[:-1] + (n_out,) if op.options.keepNumDims else (acc.shape[0], n_out)
    return y.reshape(shape)
