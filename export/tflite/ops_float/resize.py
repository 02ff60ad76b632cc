"""ONNX Resize along time, float32 -> TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (the integer path's
mapping of coordinate modes, ``ops/resize.py``)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops.resize import emit_resize, resize_plan
from fqss_edge.export.tflite.registry import register_float


@register_float("Resize", writes=(B.RESIZE_NEAREST_NEIGHBOR, B.RESIZE_BILINEAR, B.CONCATENATION, B.RESHAPE),
                tflite="RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, or RESHAPE + CONCATENATION (nearest, integer factor)",
                constraints="the last axis of [N, C, T]; the coordinate modes and length rule of the int8 converter")
def convert_resize(ctx, node) -> None:
    x = ctx.input(node, 0)
    out = ctx.output(node)
    plan = resize_plan(ctx, node, x.shape, x.dynamic, out.shape)
    emit_resize(ctx.b, plan, ctx.activation(x, node), out.name, ctx.new_output(out))
