"""ONNX Gemm (a torch Linear), float32 -> TFLite FULLY_CONNECTED (the integer path's filter layout, a float32 bias
always)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.ops._dense import WRITES, fully_connected
from fqss_edge.export.tflite.ops.gemm import gemm_attrs
from fqss_edge.export.tflite.ops_float._common import bias_values, const_weight
from fqss_edge.export.tflite.registry import register_float


def float_dense(ctx, node, x, w_nk: np.ndarray, w_name: str, bias: np.ndarray) -> None:
    """``node``'s output = FULLY_CONNECTED(x, w_nk [N, K], bias) over the last ONNX axis of ``x`` (float32)."""
    out = ctx.output(node)
    filt = ctx.b.const(w_name, np.ascontiguousarray(w_nk, dtype=np.float32))
    b = ctx.b.const(f"{out.name}/bias", bias)
    y = fully_connected(ctx.b, ctx.activation(x, node), len(x.shape), filt, b, np.float32, None, out.name)
    ctx.define(out.name, y)


@register_float("Gemm", writes=WRITES[:1], constraints="input [B, K]; transA 0, alpha = beta = 1; constant weight "
                                                        "(transB 0 or 1) and bias")
def convert_gemm(ctx, node) -> None:
    x = ctx.input(node, 0)
    trans_b = gemm_attrs(ctx, node)
    w = const_weight(ctx, node, 1, "weight")
    if w.const.ndim != 2:
        raise ctx.fail(node, f"the weight has rank {w.const.ndim} (2 expected)")
    w_nk = w.const if trans_b else w.const.T
    float_dense(ctx, node, x, w_nk, w.name, bias_values(ctx, node, 2, w_nk.shape[0]))
