"""ONNX Clip(x, min, max), float32 -> TFLite MAXIMUM (min) then MINIMUM (max), with scalar constants.

TFLite has no general clamp builtin (RELU6 / RELU_N1_TO_1 fix their bounds); XNNPACK takes MAXIMUM and
MINIMUM with a constant operand."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.registry import register_float


@register_float("Clip", writes=(B.MAXIMUM, B.MINIMUM), tflite="MAXIMUM / MINIMUM",
                constraints="min and max are constant scalars (either may be absent)")
def convert_clip(ctx, node) -> None:
    x = ctx.input(node, 0)
    out = ctx.output(node)
    t = ctx.activation(x, node)
    bounds = []
    for i, code, what in ((1, B.MAXIMUM, "min"), (2, B.MINIMUM, "max")):
        if i < len(node.input) and node.input[i]:
            v = ctx.g.const(node.input[i])
            if v is None or v.size != 1:
                raise ctx.fail(node, f"{what} ({node.input[i]!r}) must be a constant scalar")
            bounds.append((code, what, float(np.asarray(v).reshape(-1)[0])))
    if not bounds:
        raise ctx.fail(node, "a Clip without min and max is an identity (remove it before export)")
    rank = len(out.shape)
    for k, (code, what, v) in enumerate(bounds):
        c = ctx.b.const(f"{out.name}/{what}", np.full((1,) * rank, v, dtype=np.float32))
        y = ctx.new_output(out) if k == len(bounds) - 1 else ctx.b.like(f"{out.name}/{what}_clamped", t)
        ctx.b.op(code, [t, c], [y])
        t = y
