"""FULLY_CONNECTED over the last ONNX axis of an activation of any rank (shared by Gemm and MatMul with a constant
weight, int8 and float32).

FULLY_CONNECTED contracts the innermost TFLite axis. Rank 2 ``[B, K]`` is laid out as is; in the rank-3 and
rank-4 std layouts the last ONNX axis is not innermost (``[B, T, K]`` is ``[B, 1, K, T]``), so a TRANSPOSE moves
it there, FULLY_CONNECTED (keep_num_dims) writes ``[.., N]`` and a TRANSPOSE restores the std layout (a RESHAPE
when only unit axes move, e.g. T = 1).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant, TensorInfo
from fqss_edge.export.tflite.emit import over_inner_axis
from fqss_edge.export.tflite.layout import inner_axis_perm
from fqss_edge.export.tflite.ops._weights import check_weight, weight_scales

WRITES = (B.FULLY_CONNECTED, B.TRANSPOSE, B.RESHAPE)


def fully_connected(b: ModelBuilder, x: TensorInfo, rank: int, filt: TensorInfo, bias: TensorInfo,
                    dtype: object, quant: Quant | None, name: str) -> TensorInfo:
    """FULLY_CONNECTED(x, filt [N, K], bias) over the last ONNX axis of ``x`` (the std layout of an ONNX
    rank-``rank`` tensor); returns the output in the std layout."""
    opt = schema.FullyConnectedOptionsT()
    opt.keepNumDims = rank > 2

    def fc(xt: TensorInfo, out_name: str) -> TensorInfo:
        y = b.tensor(out_name, xt.shape[:-1] + (filt.shape[0],), dtype, quant, xt.dynamic[:-1] + (False,))
        b.op(B.FULLY_CONNECTED, [xt, filt, bias], [y], opt)
        return y

    return over_inner_axis(b, x, inner_axis_perm(rank, rank - 1), name, fc)


def dense_weight(ctx, node, x, w, out, n_axis: int) -> tuple[TensorInfo, np.ndarray]:
    """(the int8 FULLY_CONNECTED filter [N, K], its scales per output channel) of a 2-D constant weight whose output
    axis is ``n_axis`` (0: [N, K], 1: [K, N]); checks the input and output are int8 per tensor."""
    if x.bits != 8 or out.bits != 8:
        raise ctx.fail(node, f"int{x.bits} -> int{out.bits}: only int8 FULLY_CONNECTED is exported")
    if not x.q.per_tensor:
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    if w.const is None or w.const.ndim != 2:
        raise ctx.fail(node, f"the weight {w.name!r} must be a 2-D constant (DQ of an int8 initializer)")
    check_weight(ctx, node, w, n_axis)
    wq = w.const if n_axis == 0 else w.const.T
    n = wq.shape[0]
    s_w = weight_scales(w, n)
    # per-tensor weights are written per channel (the scale repeated), as the convolutions' are
    return ctx.b.const(w.name, np.ascontiguousarray(wq), Quant.make(s_w, np.zeros(n), 0)), s_w
