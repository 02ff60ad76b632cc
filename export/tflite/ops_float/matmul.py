"""ONNX MatMul of two rank-3 activations, float32 -> TFLite BATCH_MATMUL (operands swapped, as the int8 path)."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.registry import register_float


@register_float("MatMul", writes=(B.BATCH_MATMUL,), constraints="two rank-3 activations [B, M, K] x [B, K, N]")
def convert_matmul(ctx, node) -> None:
    a, b = ctx.input(node, 0), ctx.input(node, 1)
    for x in (a, b):
        if x.const is not None or len(x.shape) != 3:
            raise ctx.fail(node, f"operand {x.name!r}: a rank-3 activation is supported")
    y = ctx.new_output(ctx.output(node))
    ctx.b.op(B.BATCH_MATMUL, [ctx.activation(b, node), ctx.activation(a, node)], [y], schema.BatchMatMulOptionsT())
