"""ONNX ConvTranspose on (N, C, T), float32 (the integer path's two forms):

* fixed input length: TRANSPOSE_CONV (VALID, weights [Cout, 1, K, Cin], constant output shape; version 3 with
  a bias, 1 without), then a STRIDED_SLICE for the ONNX pads;
* length-dependent input: PAD(m-1 frames) -> CONV_2D(m = ceil(K/stride) taps, stride*Cout channels) ->
  RESHAPE -> STRIDED_SLICE (TRANSPOSE_CONV's output shape is a constant tensor: it cannot follow a resize).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import crop_time, pad_time, reshape
from fqss_edge.export.tflite.ops.conv_transpose import phase_filter, trailing, transpose_attrs
from fqss_edge.export.tflite.ops_float._common import bias_values, conv_operands
from fqss_edge.export.tflite.registry import register_float


@register_float("ConvTranspose", writes=(B.TRANSPOSE_CONV, B.STRIDED_SLICE, B.PAD, B.CONV_2D, B.RESHAPE),
                tflite="TRANSPOSE_CONV (fixed length) / PAD+CONV_2D+RESHAPE (dynamic length)",
                constraints="1-D, group 1, dilation 1; constant weights and bias; pads cropped with STRIDED_SLICE; "
                            "any output_padding")
def convert_conv_transpose(ctx, node) -> None:
    x, w, out, wf = conv_operands(ctx, node, "transposed convolutions")  # wf: [Cin, Cout, K]
    c_in, c_out, k = wf.shape
    s, pl, pr, op_ = transpose_attrs(ctx, node)
    has_bias = len(node.input) > 2 and bool(node.input[2])
    bias = bias_values(ctx, node, 2, c_out)
    t = ctx.activation(x, node)
    n, _, f, _ = t.shape
    if not t.dynamic[2]:
        grow, end = trailing(pr, op_, 0, 1)
        full = (f - 1) * s + k + grow
        filt = ctx.b.const(w.name, np.ascontiguousarray(wf.transpose(1, 2, 0)[:, None]))  # [Cout, 1, K, Cin]
        shape = ctx.b.const(f"{out.name}/output_shape", np.array([n, 1, full, c_out], dtype=np.int32))
        b = ctx.b.const(node.input[2], bias) if has_bias else None
        y = ctx.b.tensor(f"{out.name}/full", (n, 1, full, c_out), np.float32)
        opt = schema.TransposeConvOptionsT()
        opt.padding = schema.Padding.VALID
        opt.strideW, opt.strideH = s, 1
        ctx.b.op(B.TRANSPOSE_CONV, [shape, filt, t] + ([b] if has_bias else []), [y], opt)
    else:
        filt_np, m = phase_filter(wf, s)
        filt = ctx.b.const(w.name, filt_np)
        b2 = ctx.b.const(f"{out.name}/bias", np.tile(bias, s))
        more, end = trailing(pr, op_, m * s - k, s)
        if m > 1 or more:
            t = pad_time(ctx.b, t, m - 1, m - 1 + more, f"{out.name}/pad")
        frames = f + m - 1 + more
        dyn = (False, False, True, False)
        y = ctx.b.tensor(f"{out.name}/frames", (n, 1, frames, s * c_out), np.float32, None, dyn)
        opt = schema.Conv2DOptionsT()
        opt.padding = schema.Padding.VALID
        opt.strideW = opt.strideH = opt.dilationWFactor = opt.dilationHFactor = 1
        ctx.b.op(B.CONV_2D, [t, filt, b2], [y], opt)
        y = reshape(ctx.b, y, (n, 1, frames * s, c_out), dyn, f"{out.name}/overlap_add")
    y = crop_time(ctx.b, y, pl, end, f"{out.name}/crop")
    ctx.define(out.name, y)
