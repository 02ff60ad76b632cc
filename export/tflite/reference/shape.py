"""Operators that only move data (any element type): RESHAPE, TRANSPOSE, CONCATENATION, PAD, PADV2, MIRROR_PAD,
STRIDED_SLICE."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel


@reference_kernel(B.RESHAPE, float32=True)
def reshape(op: RefOp) -> np.ndarray:
    new_shape = op.inputs[1] if len(op.inputs) > 1 else None
    shape = [int(v) for v in new_shape] if new_shape is not None else list(op.options.newShape)
    return op.inputs[0].reshape(shape)


@reference_kernel(B.TRANSPOSE, float32=True)
def transpose(op: RefOp) -> np.ndarray:
    return np.transpose(op.inputs[0], [int(v) for v in op.inputs[1]])


@reference_kernel(B.CONCATENATION, float32=True)
def concatenation(op: RefOp) -> np.ndarray:
    out = op.out
    if any(t.z != out.z or t.s != out.s for t in op.tensors if t.scale is not None):
        raise FqssError("reference: CONCATENATION with requantization is not implemented")
    return np.concatenate(op.inputs, axis=op.options.axis % op.inputs[0].ndim)


@reference_kernel(B.PAD, float32=True)
def pad(op: RefOp) -> np.ndarray:
    """Pads with the output zero point (real 0)."""
    out = op.out
    return np.pad(op.inputs[0], op.inputs[1].astype(np.int64), constant_values=out.z if out.scale is not None else 0)


@reference_kernel(B.PADV2, float32=True)
def pad_v2(op: RefOp) -> np.ndarray:
    """Pads with the constant's code (pad.cc: its quantization must be the output's)."""
    value = op.inputs[2].reshape(-1)[0]
    return np.pad(op.inputs[0], op.inputs[1].astype(np.int64), constant_values=value)


@reference_kernel(B.MIRROR_PAD, float32=True)
def mirror_pad(op: RefOp) -> np.ndarray:
    mode = "reflect" if op.options.mode == schema.MirrorPadMode.REFLECT else "symmetric"
    return np.pad(op.inputs[0], op.inputs[1].astype(np.int64), mode=mode)


@reference_kernel(B.STRIDED_SLICE, float32=True)
def strided_slice(op: RefOp) -> np.ndarray:
    x, begin, end, strides = op.inputs[:4]
    opt = op.options
    idx = []
    for i in range(x.ndim):
        b = None if opt.beginMask >> i & 1 else int(begin[i])
        e = None if opt.endMask >> i & 1 else int(end[i])
        idx.append(slice(b, e, int(strides[i])))
    return x[tuple(idx)]
