"""ONNX Resize along time, float32 -> TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (the integer path's
mapping of coordinate modes, ``ops/resize.py``)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.resize import resize_plan
from fqss_edge.export.tflite.registry import register_float


@register_float("Resize", writes=(B.RESIZE_NEAREST_NEIGHBOR, B.RESIZE_BILINEAR),
                tflite="RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR",
                constraints="the last axis of [N, C, T] at a fixed length; the coordinate modes of the int8 converter")
def convert_resize(ctx, node) -> None:
    x = ctx.input(node, 0)
    out = ctx.output(node)
    code, opt, size = resize_plan(ctx, node, x.shape, x.dynamic, out.shape)
    y = ctx.new_output(out)
    ctx.b.op(code, [ctx.activation(x, node), ctx.b.const(f"{out.name}/size", size)], [y], opt)
