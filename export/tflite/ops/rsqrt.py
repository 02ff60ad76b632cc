"""ONNX Sqrt -> Reciprocal (DQ -> Sqrt -> Reciprocal -> Q, the Sqrt output not quantized) -> TFLite RSQRT."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.registry import register


@register("Sqrt", writes=(B.RSQRT,), bits=(8, 16), pattern="DQ -> Sqrt -> Reciprocal -> Q", absorbs=("Reciprocal",),
          constraints="the Sqrt output feeds only a Reciprocal; int16 zero points 0 (int16 RSQRT is a 513-entry "
                      "interpolated table)")
def convert_rsqrt(ctx, node) -> None:
    cons = ctx.g.consumers.get(node.output[0], [])
    if len(cons) != 1 or cons[0].op_type != "Reciprocal":
        raise ctx.fail(node, "a Sqrt is only converted as Sqrt -> Reciprocal (RSQRT); its output feeds "
                             + (", ".join(c.op_type for c in cons) or "nothing"))
    recip = cons[0]
    ctx.claim(recip)
    x, out = unary_io(ctx, node, (8, 16), out_node=recip)
    y = ctx.new_output(out)
    ctx.b.op(B.RSQRT, [ctx.activation(x, node)], [y])
