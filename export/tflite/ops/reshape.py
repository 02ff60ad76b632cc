"""ONNX Reshape / Unsqueeze / Squeeze / Flatten on a quantized tensor (DQ -> op -> Q, same scale and zero point)
-> TFLite RESHAPE, preceded by a TRANSPOSE only when the NHWC memory order requires it."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import from_std_layout, quantize, reshape, to_std_layout, transpose
from fqss_edge.export.tflite.layout import reshape_plan, to_tflite_flags, to_tflite_shape
from fqss_edge.export.tflite.registry import register


@register("Reshape", "Unsqueeze", "Squeeze", "Flatten", writes=(B.RESHAPE, B.TRANSPOSE, B.QUANTIZE),
          tflite="RESHAPE (+TRANSPOSE if the layout needs it)", bits=(8, 16),
          pattern="DQ -> Reshape|Unsqueeze|Squeeze|Flatten -> Q",
          constraints="target shape constant (one length-dependent dimension at most); same quantization in and out "
                      "(otherwise a QUANTIZE follows)")
def convert_reshape(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    if not x.q.per_tensor:
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    t = ctx.activation(x, node)
    g = ctx.g
    in2 = g.shapes2.get(x.name, x.shape)
    out2 = g.shapes2.get(out.name, out.shape)
    perm = reshape_plan(x.shape, out.shape, in2, out2)
    if perm == "canonical":  # through ONNX (row-major) order
        t = from_std_layout(ctx.b, t, x.shape, x.dynamic, out.shape, out.dynamic, f"{out.name}/onnx_order")
        t = to_std_layout(ctx.b, t, out.shape, out.dynamic, f"{out.name}/std")
    elif perm is not None:
        t = transpose(ctx.b, t, perm, f"{out.name}/transpose")
    shape, dyn = to_tflite_shape(out.shape), to_tflite_flags(out.dynamic)
    if x.q.same(out.q):
        y = ctx.new_output(out)
        reshape(ctx.b, t, shape, dyn, out.name, out=y)
        return
    t = reshape(ctx.b, t, shape, dyn, f"{out.name}/reshape")
    y = quantize(ctx.b, t, out.q.dtype, Quant.make(out.q.scale, out.q.zero_point), out.name)
    ctx.define(out.name, y)
