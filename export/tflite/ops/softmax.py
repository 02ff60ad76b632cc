"""ONNX Softmax (DQ -> Softmax(axis) -> Q) -> TFLite SOFTMAX (int8) over any axis.

TFLite's SOFTMAX reduces over the innermost axis. The channel axis 1 of ``[N, C, T]`` is innermost in its
``[N, 1, T, C]`` layout (one SOFTMAX); another axis is moved inward by a TRANSPOSE and back after
(``layout.inner_axis_perm``). The output quantization is TFLite's fixed one: scale 1/256, zero point -128.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import over_inner_axis
from fqss_edge.export.tflite.layout import inner_axis_perm
from fqss_edge.export.tflite.ops._unary import unary_io
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


@register("Softmax", writes=(B.SOFTMAX, B.TRANSPOSE, B.RESHAPE), bits=(8,),
          tflite="SOFTMAX (TRANSPOSE in and out unless the axis is the layout's innermost)",
          constraints="any axis (opset < 13: the last); output scale exactly 1/256, zero point -128")
def convert_softmax(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    rank = len(x.shape)
    axis = softmax_axis(ctx, node, rank)
    s, z = float(out.q.scale.reshape(-1)[0]), int(out.q.zero_point.reshape(-1)[0])
    if s != 1.0 / 256 or z != -128:
        raise ctx.fail(node, f"Softmax output quantized with scale {s!r}, zero point {z}; TFLite SOFTMAX needs "
                             "scale 1/256 and zero point -128")
    y = emit_softmax(ctx, ctx.activation(x, node), rank, axis, out.q.dtype, out.quant(), out.name)
    ctx.define(out.name, y)
