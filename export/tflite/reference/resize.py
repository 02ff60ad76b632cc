"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of integer tensors ``[N, H, W, C]`` (tflite/kernels/internal/
reference/resize_nearest_neighbor.h, and resize_bilinear.h's ResizeBilinearInteger, which BUILTIN_REF runs for int8
and int16: 10-bit fixed-point positions, round half away from zero). Both move codes: one quantization in and out."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import tflite_round
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel


def _nearest_index(out_size: int, in_size: int, align: bool, half: bool) -> np.ndarray:
    """GetNearestNeighbor (float32 arithmetic)."""
    f = np.float32
    scale = f(in_size - 1) / f(out_size - 1) if align and out_size > 1 else f(in_size) / f(out_size)
    pos = (np.arange(out_size, dtype=np.float32) + f(0.5 if half else 0.0)) * scale
    idx = np.array([tflite_round(float(p)) for p in pos]) if align else np.floor(pos)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0) if half else idx


@reference_kernel(B.RESIZE_NEAREST_NEIGHBOR)
def resize_nearest(op: RefOp) -> np.ndarray:
    x, size, opt = op.inputs[0], op.inputs[1], op.options
    ih, iw = x.shape[1:3]
    rows = _nearest_index(int(size[0]), ih, opt.alignCorners, opt.halfPixelCenters)
    cols = _nearest_index(int(size[1]), iw, opt.alignCorners, opt.halfPixelCenters)
    return x[:, rows][:, :, cols]


def _bilinear_positions(out_size: int, in_size: int, align: bool, half: bool
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scaled position (10 fractional bits), lower index, upper index) of each output index
    (ComputeInterpolationValuesInteger, C integer division)."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    v = np.arange(out_size, dtype=np.int64)
    scaled = v * scale + scale // 2 - (1 << 9) if half else v * scale
    lower = np.maximum(np.trunc(scaled / (1 << 10)).astype(np.int64), 0)
    upper = np.minimum(np.trunc((scaled + (1 << 10) - 1) / (1 << 10)).astype(np.int64), in_size - 1)
    return scaled, lower, upper


@reference_kernel(B.RESIZE_BILINEAR)
def resize_bilinear(op: RefOp) -> np.ndarray:
    x, size, opt = op.inputs[0].astype(np.int64), op.inputs[1], op.options
    ih, iw = x.shape[1:3]
    sy, y0, y1 = _bilinear_positions(int(size[0]), ih, opt.alignCorners, opt.halfPixelCenters)
    sx, x0, x1 = _bilinear_positions(int(size[1]), iw, opt.alignCorners, opt.halfPixelCenters)
    fy = (sy - (1 << 10) * y0)[None, :, None, None]
    fx = (sx - (1 << 10) * x0)[None, None, :, None]
    one = 1 << 10

    def at(r, c):
        return x[:, r][:, :, c]

    total = (at(y0, x0) * (one - fy) * (one - fx) + at(y1, x0) * fy * (one - fx)
             + at(y0, x1) * (one - fy) * fx + at(y1, x1) * fy * fx)
    rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
    out = np.where(rounded >= 0, rounded // (1 << 20), -((-rounded) // (1 << 20)))  # C division: toward zero
    return out.astype(op.out.dtype)
