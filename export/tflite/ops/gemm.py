"""ONNX Gemm (a torch Linear: DQ(x [B, K]), DQ(w int8), DQ(b int32) -> Gemm -> Q) -> TFLite FULLY_CONNECTED.

``transB=1`` (torch's layout, ``w [N, K]``) is the FULLY_CONNECTED filter as is; ``transB=0`` (``w [K, N]``) is
transposed. Weights per tensor or per output channel (the axis of N: 0 with transB=1, 1 with transB=0, as
onnxruntime's quantize_static writes them), zero points 0; the bias is int32 of scale s_in * s_w (zeros when
absent: FULLY_CONNECTED is then version 4, as TensorFlow's converter writes it).
"""

from __future__ import annotations

from fqss_edge.export.tflite.ops._dense import WRITES, dense_weight, fully_connected
from fqss_edge.export.tflite.ops._weights import bias_tensor
from fqss_edge.export.tflite.registry import register


def gemm_attrs(ctx, node) -> bool:
    """transB of a Gemm the converters accept (transA 0, alpha 1, beta 1); fails naming the node otherwise
    (shared with the float32 converter)."""
    attr = ctx.g.attr
    if int(attr(node, "transA", 0)) != 0:
        raise ctx.fail(node, "transA=1 is not supported (the input must be [B, K])")
    for a in ("alpha", "beta"):
        if float(attr(node, a, 1.0)) != 1.0:
            raise ctx.fail(node, f"{a}={attr(node, a)} is not supported (1 expected: fold it into the weights)")
    return bool(int(attr(node, "transB", 0)))


@register("Gemm", writes=WRITES[:1], bits=(8,),
          constraints="int8 input [B, K] per tensor; transA 0, alpha = beta = 1; int8 weights (transB 0 or 1) per "
                      "tensor or per output channel, zero points 0; int32 bias [N] of scale s_in*s_w")
def convert_gemm(ctx, node) -> None:
    x, w = ctx.qinput(node, 0), ctx.qinput(node, 1)
    bias = ctx.optional_qinput(node, 2)
    out = ctx.qoutput(node)
    trans_b = gemm_attrs(ctx, node)
    filt, s_w = dense_weight(ctx, node, x, w, out, n_axis=0 if trans_b else 1)
    b = bias_tensor(ctx, node, bias, x.scalar_scale, s_w, out.name)
    y = fully_connected(ctx.b, ctx.activation(x, node), len(x.shape), filt, b, out.q.dtype, out.quant(), out.name)
    ctx.define(out.name, y)

