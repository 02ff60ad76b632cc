"""ONNX ReduceMean (DQ -> ReduceMean(axes, keepdims=1) -> Q) -> TFLite MEAN."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import version
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("ReduceMean", tflite="MEAN", bits=(8, 16),
          constraints="keepdims=1; constant axes; int16 zero points 0. The kernel sums in int32: an int16 mean over "
                      "n elements overflows when n * |mean| exceeds 2^31")
def convert_reduce_mean(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8, 16))
    rank = len(x.shape)
    if int(ctx.g.attr(node, "keepdims", 1)) != 1:
        raise ctx.fail(node, "keepdims=0 is not supported (keep the reduced axes)")
    axes = ctx.g.attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        a = ctx.g.const(node.input[1])
        if a is None:
            raise ctx.fail(node, "axes are not constant")
        axes = [int(v) for v in a.reshape(-1)]
    if axes is None or len(axes) == 0:
        if int(ctx.g.attr(node, "noop_with_empty_axes", 0)):
            raise ctx.fail(node, "noop_with_empty_axes is not supported")
        axes = list(range(rank))
    tfl_axes = sorted({tflite_axis(int(a), rank) for a in axes})
    opt = schema.ReducerOptionsT()
    opt.keepDims = True
    y = ctx.new_output(out)
    ctx.b.op(B.MEAN, [ctx.activation(x, node), ctx.b.const(f"{out.name}/axes", np.array(tfl_axes, dtype=np.int32))],
             [y], opt, version=version(B.MEAN, y.dtype))
