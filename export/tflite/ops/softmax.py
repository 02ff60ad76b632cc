"""ONNX Softmax (DQ -> Softmax(axis) -> Q) -> TFLite SOFTMAX (int8) over any axis.

TFLite's SOFTMAX reduces over the innermost axis. The channel axis 1 of ``[N, C, T]`` is innermost in its
``[N, 1, T, C]`` layout (one SOFTMAX); another axis is moved inward by a TRANSPOSE and back after
(``layout.inner_axis_perm``). TFLite's int8 SOFTMAX writes scale 1/256, zero point -128; an output quantized
otherwise (onnxruntime's quantize_static: 1/255, -128) gets a QUANTIZE after it.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import over_inner_axis, quantize
from fqss_edge.export.tflite.layout import inner_axis_perm
from fqss_edge.export.tflite.ops._unary import fixed_output, unary_io
from fqss_edge.export.tflite.registry import register


def softmax_axis(ctx, node, rank: int) -> int:
    """The ONNX axis a Softmax normalises (opset >= 13: one axis, default -1; older opsets flatten the axes from
    ``axis`` on, which is one axis only when it is the last); shared with the float32 converter."""
    opset = next((o.version for o in ctx.g.model.opset_import if o.domain in ("", "ai.onnx")), 13)
    axis = int(ctx.g.attr(node, "axis", -1 if opset >= 13 else 1)) % rank
    if opset < 13 and axis != rank - 1:
        raise ctx.fail(node, f"opset-{opset} Softmax over the flattened axes {axis}.. of a rank-{rank} tensor is not "
                             "supported (one axis: the last, or opset 13)")
    return axis


def emit_softmax(ctx, x_tensor, rank: int, axis: int, dtype, quant, name: str):
    """SOFTMAX of ONNX axis ``axis`` of a std-layout tensor (TRANSPOSE in and out when it is not innermost)."""
    opt = schema.SoftmaxOptionsT()
    opt.beta = 1.0

    def softmax(t, out_name):
        y = ctx.b.tensor(out_name, t.shape, dtype, quant, t.dynamic)
        ctx.b.op(B.SOFTMAX, [t], [y], opt)
        return y

    return over_inner_axis(ctx.b, x_tensor, inner_axis_perm(rank, axis), name, softmax)


@register("Softmax", writes=(B.SOFTMAX, B.TRANSPOSE, B.RESHAPE, B.QUANTIZE), bits=(8,),
          tflite="SOFTMAX (TRANSPOSE in and out unless the axis is the layout's innermost) (+QUANTIZE)",
          constraints="any axis (opset < 13: the last); an output quantized otherwise than SOFTMAX's fixed 1/256, "
                      "zero point -128 is requantized after (QUANTIZE)")
def convert_softmax(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    rank = len(x.shape)
    axis = softmax_axis(ctx, node, rank)
    fixed = fixed_output(out, 1.0 / 256, -128)
    y = emit_softmax(ctx, ctx.activation(x, node), rank, axis, out.q.dtype, fixed or out.quant(),
                     f"{out.name}/softmax" if fixed else out.name)
    ctx.define(out.name, quantize(ctx.b, y, out.q.dtype, out.quant(), out.name) if fixed else y)
