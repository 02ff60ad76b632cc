"""ONNX Sqrt -> Reciprocal (gLN's 1/std), float32 -> TFLite RSQRT."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.registry import register_float


@register_float("Sqrt", writes=(B.RSQRT,), pattern="Sqrt -> Reciprocal", absorbs=("Reciprocal",),
                constraints="the Sqrt output feeds only a Reciprocal (a lone Sqrt has no converter)")
def convert_rsqrt(ctx, node) -> None:
    cons = ctx.g.consumers.get(node.output[0], [])
    if len(cons) != 1 or cons[0].op_type != "Reciprocal" or node.output[0] in {o.name for o in ctx.g.outputs}:
        raise ctx.fail(node, "a Sqrt is only converted as Sqrt -> Reciprocal (RSQRT); its output feeds "
                             + (", ".join(c.op_type for c in cons) or "nothing"))
    recip = cons[0]
    ctx.claim(recip)
    x = ctx.input(node, 0)
    y = ctx.new_output(ctx.output(recip))
    ctx.b.op(B.RSQRT, [ctx.activation(x, node)], [y])
