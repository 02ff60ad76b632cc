"""ONNX ConvTranspose on (N, C, T) (DQ(x), DQ(w int8, axis 1), DQ(b) -> ConvTranspose -> Q).

* Fixed input length: TFLite TRANSPOSE_CONV (VALID, weights [Cout, 1, K, Cin], constant output shape), then a
  STRIDED_SLICE for the ONNX pads.
* Length-dependent input (T dynamic): TRANSPOSE_CONV's output shape is a constant tensor, so it cannot follow
  a resized input (and XNNPACK needs it constant). The same integer sums are computed as
  PAD(m-1 frames) -> CONV_2D(kernel m = ceil(K/stride), stride*Cout output channels) -> RESHAPE -> STRIDED_SLICE:
  y[u*s + j, co] = sum_r sum_ci x[u - r, ci] w[ci, co, r*s + j]. Each output channel keeps its ConvTranspose
  weight scale, so the requantization (and the result) is that of TRANSPOSE_CONV.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.context import WIDEN
from fqss_edge.export.tflite.emit import crop_time, pad_time, quantize, reshape
from fqss_edge.export.tflite.ops._weights import (
    bias_tensor,
    bias_tensor_16x8,
    check_weight,
    optional_bias,
    weight_scales,
)
from fqss_edge.export.tflite.registry import register


def transpose_attrs(ctx, node) -> tuple[int, int, int, int]:
    """(stride, begin pad, end pad, output_padding) of a 1-D ConvTranspose; fails on what is not supported
    (shared with the float32 converter)."""
    attr = ctx.g.attr
    if int(attr(node, "group", 1)) != 1 or int((attr(node, "dilations", None) or [1])[0]) != 1:
        raise ctx.fail(node, "grouped or dilated ConvTranspose is not supported")
    ap = attr(node, "auto_pad", b"NOTSET")
    if (ap.decode() if isinstance(ap, bytes) else ap) != "NOTSET":
        raise ctx.fail(node, "auto_pad is not supported (give explicit pads)")
    s = int((attr(node, "strides", None) or [1])[0])
    pl, pr = (int(p) for p in (attr(node, "pads", None) or [0, 0]))
    op_ = int((attr(node, "output_padding", None) or [0])[0])
    return s, pl, pr, op_


def trailing(pr: int, op_: int, have: int, step: int) -> tuple[int, int]:
    """(units of ``step`` output positions to add at the end, positions to crop there) for the end pad ``pr`` and
    output_padding ``op_`` when ``have`` positions past the full transposed convolution are computed already.
    output_padding beyond the end pad (torch: ConvTranspose1d(stride=2, output_padding=1)) appends positions that
    no input reaches: the bias alone, which a longer TRANSPOSE_CONV output or more zero frames compute."""
    units = max(0, -(-(op_ - pr - have) // step))
    return units, pr - op_ + have + units * step


def phase_filter(w: np.ndarray, s: int) -> tuple[np.ndarray, int]:
    """ConvTranspose weights [Cin, Cout, K] -> the CONV_2D filter [s*Cout, 1, m, Cin] (m = ceil(K/s) taps) of
    the length-dependent form, same dtype: filt[j*Cout + co, 0, i, ci] = w[ci, co, (m-1-i)*s + j] (0 past K)."""
    c_in, c_out, k = w.shape
    m = -(-k // s)
    wp = np.zeros((c_in, c_out, m * s), dtype=w.dtype)
    wp[:, :, :k] = w
    taps = wp.reshape(c_in, c_out, m, s)[:, :, ::-1, :]  # [ci, co, i, j]
    return np.ascontiguousarray(taps.transpose(3, 1, 2, 0).reshape(s * c_out, 1, m, c_in)), m


@register("ConvTranspose", writes=(B.TRANSPOSE_CONV, B.STRIDED_SLICE, B.PAD, B.CONV_2D, B.RESHAPE, B.QUANTIZE),
          tflite="TRANSPOSE_CONV (fixed length) / PAD+CONV_2D+RESHAPE (dynamic length)", bits=(8, 16),
          constraints="1-D, group 1, dilation 1; int8 weights per output channel (axis 1), zero points 0; int32 bias "
                      "of scale s_in*s_w; pads cropped with STRIDED_SLICE; any output_padding. int16 input or output "
                      "(a mixed-precision plan): 16x8 with an int64 bias, an int8 input widened (QUANTIZE to s/128, "
                      "exact), an int8 output computed at s_out/128 then QUANTIZE")
def convert_conv_transpose(ctx, node) -> None:
    x, w = ctx.qinput(node, 0), ctx.qinput(node, 1)
    bias = optional_bias(ctx, node, 2)
    out = ctx.qoutput(node)
    if len(x.shape) != 3:
        raise ctx.fail(node, f"only 1-D transposed convolutions are supported, got input shape {x.shape}")
    wide = x.bits == 16 or out.bits == 16  # 16x8: int16 activations, int8 weights, int64 bias
    check_weight(ctx, node, w, 1)
    wq = w.const  # [Cin, Cout, K]
    c_in, c_out, k = wq.shape
    s, pl, pr, op_ = transpose_attrs(ctx, node)
    s_w = weight_scales(w, c_out)
    t, s_t = ctx.widened(x, node) if wide else (ctx.activation(x, node), x.scalar_scale)
    n, _, f, _ = t.shape
    dyn_t = t.dynamic[2]
    # 16x8: int16 throughout, at s_out / 128 when the output is int8 (a QUANTIZE to it follows)
    q = out.quant() if not wide or out.bits == 16 else Quant.make(np.float32(out.quant().scale[0]) / WIDEN, 0)
    dtype = np.int16 if wide else out.q.dtype

    def bias_of(repeat: int = 1):
        if wide:
            return bias_tensor_16x8(ctx, node, bias, x.scalar_scale, round(x.scalar_scale / s_t), s_w, out.name,
                                    repeat)
        return bias_tensor(ctx, node, bias, x.scalar_scale, s_w, out.name, repeat=repeat)
    if not dyn_t:
        grow, end = trailing(pr, op_, 0, 1)
        full = (f - 1) * s + k + grow
        filt = ctx.b.const(w.name, np.ascontiguousarray(wq.transpose(1, 2, 0)[:, None]),  # [Cout, 1, K, Cin]
                           Quant.make(s_w, np.zeros(c_out), 0))
        b = bias_of()
        shape = ctx.b.const(f"{out.name}/output_shape", np.array([n, 1, full, c_out], dtype=np.int32))
        y = ctx.b.tensor(f"{out.name}/full", (n, 1, full, c_out), dtype, q)
        opt = schema.TransposeConvOptionsT()
        opt.padding = schema.Padding.VALID
        opt.strideW, opt.strideH = s, 1
        ctx.b.op(B.TRANSPOSE_CONV, [shape, filt, t, b], [y], opt)
    else:
        filt_np, m = phase_filter(wq, s)
        filt = ctx.b.const(w.name, filt_np, Quant.make(np.tile(s_w, s), np.zeros(s * c_out), 0))
        b2 = bias_of(repeat=s)
        more, end = trailing(pr, op_, m * s - k, s)
        if m > 1 or more:
            t = pad_time(ctx.b, t, m - 1, m - 1 + more, f"{out.name}/pad")
        frames = f + m - 1 + more
        y = ctx.b.tensor(f"{out.name}/frames", (n, 1, frames, s * c_out), dtype, q, (False, False, True, False))
        opt = schema.Conv2DOptionsT()
        opt.padding = schema.Padding.VALID
        opt.strideW = opt.strideH = opt.dilationWFactor = opt.dilationHFactor = 1
        ctx.b.op(B.CONV_2D, [t, filt, b2], [y], opt)
        y = reshape(ctx.b, y, (n, 1, frames * s, c_out), (False, False, True, False), f"{out.name}/overlap_add")
    y = crop_time(ctx.b, y, pl, end, f"{out.name}/crop")
    ctx.define(out.name, y if y.dtype == out.q.dtype else quantize(ctx.b, y, out.q.dtype, out.quant(), out.name))
