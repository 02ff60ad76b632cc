"""ONNX MatMul (DQ, DQ -> MatMul -> Q) -> TFLite BATCH_MATMUL (two rank-3 activations) or FULLY_CONNECTED (a
constant 2-D weight: a torch Linear on ``[B, T, C]``, ``ops/_dense.py``), int8.

ONNX ``[B, M, K] @ [B, K, N]`` is laid out ``[B, 1, K, M]`` and ``[B, 1, N, K]`` (the rank-3 std layout), and
the output ``[B, 1, N, M]``: in TFLite memory the product is ``b_tfl @ a_tfl``, one BATCH_MATMUL with the
operands swapped and no TRANSPOSE. XNNPACK takes it when its right-hand operand (ONNX's left one) has zero
point 0.
"""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._dense import WRITES, dense_weight, fully_connected
from fqss_edge.export.tflite.ops._weights import bias_tensor
from fqss_edge.export.tflite.registry import register


@register("MatMul", writes=(B.BATCH_MATMUL, *WRITES), bits=(8,),
          tflite="BATCH_MATMUL (two activations) / FULLY_CONNECTED (+TRANSPOSE) (a constant weight)",
          constraints="two rank-3 int8 activations [B, M, K] x [B, K, N] (same B), per-tensor, written as "
                      "BATCH_MATMUL(b, a) in the [N, 1, T, C] layout; or an activation of rank 2 to 4 times a "
                      "constant int8 [K, N] weight (per tensor or per column, zero points 0)")
def convert_matmul(ctx, node) -> None:
    a, b = ctx.qinput(node, 0), ctx.qinput(node, 1)
    out = ctx.qoutput(node)
    if b.const is not None and a.const is None:
        filt, s_w = dense_weight(ctx, node, a, b, out, n_axis=1)
        bias = bias_tensor(ctx, node, None, a.scalar_scale, s_w, out.name)
        y = fully_connected(ctx.b, ctx.activation(a, node), len(a.shape), filt, bias, out.q.dtype, out.quant(),
                            out.name)
        ctx.define(out.name, y)
        return
    for x in (a, b):
        if x.const is not None:
            raise ctx.fail(node, f"operand {x.name!r} is a constant (a MatMul of two activations is supported)")
        if x.bits != 8 or out.bits != 8:
            raise ctx.fail(node, "int8 operands and output only")
        if not x.q.per_tensor:
            raise ctx.fail(node, f"operand {x.name!r} is quantized per channel (BATCH_MATMUL needs per tensor)")
        if len(x.shape) != 3:
            raise ctx.fail(node, f"operand {x.name!r} has rank {len(x.shape)} (rank 3 supported)")
    if a.shape[0] != b.shape[0]:
        raise ctx.fail(node, f"batch sizes differ ({a.shape[0]} vs {b.shape[0]}): broadcasting is not supported")
    y = ctx.new_output(out)
    ctx.b.op(B.BATCH_MATMUL, [ctx.activation(b, node), ctx.activation(a, node)], [y], schema.BatchMatMulOptionsT())
