"""ONNX ReduceMean(axes, keepdims=1), float32 -> TFLite MEAN over the same axes in the NHWC layout."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.registry import register_float


@register_float("ReduceMean", writes=(B.MEAN,), constraints="keepdims=1; constant axes (attribute or input)")
def convert_reduce_mean(ctx, node) -> None:
    x = ctx.input(node, 0)
    rank = len(x.shape)
    if int(ctx.g.attr(node, "keepdims", 1)) != 1:
        raise ctx.fail(node, "keepdims=0 is not supported (keep the reduced axes)")
    axes = ctx.g.attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in ctx.int_const(node, 1, "axes").reshape(-1)]
    if not axes:
        if int(ctx.g.attr(node, "noop_with_empty_axes", 0)):
            raise ctx.fail(node, "noop_with_empty_axes is not supported")
        axes = list(range(rank))
    tfl_axes = sorted(tflite_axis(int(a) % rank, rank) for a in set(axes))
    opt = schema.ReducerOptionsT()
    opt.keepDims = True
    t = ctx.activation(x, node)
    y = ctx.new_output(ctx.output(node))
    ctx.b.op(B.MEAN, [t, ctx.b.const(f"{y.name}/axes", np.array(tfl_axes, dtype=np.int32))], [y], opt)
