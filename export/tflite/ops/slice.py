"""ONNX Slice with constant starts / ends / axes / steps of a quantized tensor (DQ -> Slice -> Q) -> TFLite
STRIDED_SLICE (+QUANTIZE when the output is quantized differently). Negative indices count from the end, so a
slice of the length-dependent axis (``x[..., P:]``, ``x[..., :-P]``, ``x[..., ::-1]``) holds for every input
length; steps may be negative or larger than 1 on any axis."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import std_layout
from fqss_edge.export.tflite.registry import register

_INT32_MAX = 2**31 - 1


def strided_slice_params(ctx, node, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
    """(begin, end, strides, StridedSliceOptionsT) over the TFLite axes of a rank-``rank`` std layout."""
    def const(i: int) -> np.ndarray | None:
        return ctx.g.const(node.input[i]) if len(node.input) > i and node.input[i] else None

    starts, ends = const(1), const(2)
    if starts is None or ends is None:
        raise ctx.fail(node, "starts and ends must be constants")
    axes = const(3)
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in axes.reshape(-1)]
    steps = const(4)
    steps = np.ones(len(axes), dtype=np.int64) if steps is None else steps.reshape(-1)
    if np.any(steps == 0):
        raise ctx.fail(node, "a step of 0")
    lay = std_layout(rank)
    n = len(lay)
    begin, end, strides = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32), np.ones(n, dtype=np.int32)
    begin_mask = end_mask = (1 << n) - 1
    for a, s, e, st in zip(axes, starts.reshape(-1), ends.reshape(-1), steps):
        # ONNX clamps starts / ends as TFLite's StridedSlice does (negative: + dim; then [0, dim] for a positive
        # step, [-1, dim - 1] for a negative one), so values past the ends are written as they are (in int32)
        t = lay.index(a)
        strides[t] = int(st)
        if s != 0 or st < 0:
            begin[t], begin_mask = min(max(int(s), -_INT32_MAX), _INT32_MAX), begin_mask & ~(1 << t)
        if e < _INT32_MAX or st < 0:
            end[t], end_mask = min(max(int(e), -_INT32_MAX), _INT32_MAX), end_mask & ~(1 << t)
    opt = schema.StridedSliceOptionsT()
    opt.beginMask, opt.endMask = begin_mask, end_mask
    return begin, end, strides, opt


@register("Slice", writes=(B.STRIDED_SLICE, B.QUANTIZE), tflite="STRIDED_SLICE (+QUANTIZE)", bits=(8, 16),
          constraints="constant starts, ends, axes, steps (any sign, any axis); an output quantized unlike the input "
                      "is requantized after (QUANTIZE)")
def convert_slice(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    begin, end, strides, opt = strided_slice_params(ctx, node, len(x.shape))
    t = ctx.activation(x, node)
    y = ctx.moved_output(x, out, t)
    consts = [ctx.b.const(f"{out.name}/{k}", v) for k, v in (("begin", begin), ("end", end), ("strides", strides))]
    ctx.b.op(B.STRIDED_SLICE, [t, *consts], [y], opt)
    ctx.requantized(x, out, y)
