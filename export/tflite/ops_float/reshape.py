"""ONNX Reshape / Unsqueeze / Squeeze / Flatten, float32 -> TFLite RESHAPE, preceded by a TRANSPOSE only when
the NHWC memory order requires it (the integer path's plan, ``layout.reshape_plan``)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import from_std_layout, reshape, to_std_layout, transpose
from fqss_edge.export.tflite.layout import reshape_plan
from fqss_edge.export.tflite.registry import register_float


@register_float("Reshape", "Unsqueeze", "Squeeze", "Flatten", writes=(B.RESHAPE, B.TRANSPOSE),
                tflite="RESHAPE (+TRANSPOSE if the layout needs it)", pattern="Reshape|Unsqueeze|Squeeze|Flatten",
                constraints="target shape constant (one length-dependent dimension at most)")
def convert_reshape(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "reshapes a constant (fold it before export)")
    out = ctx.output(node)
    t = ctx.activation(x, node)
    g = ctx.g
    perm = reshape_plan(x.shape, out.shape, g.shapes2.get(x.name, x.shape), g.shapes2.get(out.name, out.shape))
    if perm == "canonical":  # through ONNX (row-major) order
        t = from_std_layout(ctx.b, t, x.shape, x.dynamic, out.shape, out.dynamic, f"{out.name}/onnx_order")
        t = to_std_layout(ctx.b, t, out.shape, out.dynamic, f"{out.name}/std")
    elif perm is not None:
        t = transpose(ctx.b, t, perm, f"{out.name}/transpose")
    y = ctx.new_output(out)
    reshape(ctx.b, t, y.shape, y.dynamic, out.name, out=y)
