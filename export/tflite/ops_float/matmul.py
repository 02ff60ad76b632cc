"""ONNX MatMul, float32 -> TFLite BATCH_MATMUL of two rank-3 activations (operands swapped, as the int8 path), or
FULLY_CONNECTED with a constant [K, N] weight."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._dense import WRITES
from fqss_edge.export.tflite.ops_float.gemm import float_dense
from fqss_edge.export.tflite.registry import register_float


@register_float("MatMul", writes=(B.BATCH_MATMUL, *WRITES),
                constraints="two rank-3 activations [B, M, K] x [B, K, N]; or an activation of rank 2 to 4 times a "
                            "constant [K, N] weight (FULLY_CONNECTED)")
def convert_matmul(ctx, node) -> None:
    a, b = ctx.input(node, 0), ctx.input(node, 1)
    if b.const is not None and a.const is None and b.const.ndim == 2:
        float_dense(ctx, node, a, b.const.T, b.name, np.zeros(b.const.shape[1], dtype=np.float32))
        return
    for x in (a, b):
        if x.const is not None or len(x.shape) != 3:
            raise ctx.fail(node, f"operand {x.name!r}: a rank-3 activation is supported")
    y = ctx.new_output(ctx.output(node))
    ctx.b.op(B.BATCH_MATMUL, [ctx.activation(b, node), ctx.activation(a, node)], [y], schema.BatchMatMulOptionsT())
