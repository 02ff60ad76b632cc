"""ONNX Slice with constant starts / ends / axes (step 1) of a quantized tensor (DQ -> Slice -> Q, same
quantization) -> TFLite STRIDED_SLICE. Negative indices count from the end, so a slice of the length-dependent
axis (``x[..., P:]``, ``x[..., :-P]``) holds for every input length."""

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
    if steps is not None and np.any(steps != 1):
        raise ctx.fail(node, "only step 1 is supported")
    lay = std_layout(rank)
    n = len(lay)
    begin, end = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
    begin_mask = end_mask = (1 << n) - 1
    for a, s, e in zip(axes, starts.reshape(-1), ends.reshape(-1)):
        t = lay.index(a)
        if s != 0:
            begin[t], begin_mask = max(int(s), -_INT32_MAX), begin_mask & ~(1 << t)
        if e < _INT32_MAX:
            end[t], end_mask = max(int(e), -_INT32_MAX), end_mask & ~(1 << t)
    opt = schema.StridedSliceOptionsT()
    opt.beginMask, opt.endMask = begin_mask, end_mask
    return begin, end, np.ones(n, dtype=np.int32), opt


@register("Slice", writes=(B.STRIDED_SLICE, B.QUANTIZE), tflite="STRIDED_SLICE (+QUANTIZE)", bits=(8, 16),
          constraints="constant starts, ends, axes; step 1; an output quantized unlike the input is requantized "
                      "after (QUANTIZE)")
def convert_slice(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    begin, end, strides, opt = strided_slice_params(ctx, node, len(x.shape))
    t = ctx.activation(x, node)
    y = ctx.moved_output(x, out, t)
    consts = [ctx.b.const(f"{out.name}/{k}", v) for k, v in (("begin", begin), ("end", end), ("strides", strides))]
    ctx.b.op(B.STRIDED_SLICE, [t, *consts], [y], opt)
    ctx.requantized(x, out, y)
