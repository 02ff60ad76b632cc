"""ONNX Transpose, float32 -> TFLite TRANSPOSE (the permutation translated through the std layouts)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import transpose
from fqss_edge.export.tflite.ops.transpose import onnx_perm, tflite_perm
from fqss_edge.export.tflite.registry import register_float


@register_float("Transpose", writes=(B.TRANSPOSE, B.RESHAPE), tflite="TRANSPOSE (RESHAPE when only unit axes move)",
                constraints="ranks 1 to 4")
def convert_transpose(ctx, node) -> None:
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "transposes a constant (fold it before export)")
    out = ctx.output(node)
    y = transpose(ctx.b, ctx.activation(x, node), tflite_perm(onnx_perm(ctx, node, len(x.shape)), len(x.shape)),
                  out.name)
    ctx.define(out.name, y)
