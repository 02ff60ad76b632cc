"""ONNX Conv on (N, C, T), float32 -> TFLite CONV_2D / DEPTHWISE_CONV_2D (the integer path's layout and padding).

Layout [N, 1, T, C]: CONV_2D weights [Cout, 1, K, Cin], depthwise [1, 1, K, Cout]; a float32 bias always
(zeros when the ONNX node has none). Padding: VALID, SAME when the ONNX pads equal TFLite's SAME pads at every
input length, else a PAD. A strided waveform convolution runs on frames, as in the integer path. A dilated DEPTHWISE_CONV_2D is stamped version 2 (versions.py).
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import pad_time
from fqss_edge.export.tflite.ops.conv import (
    FRAMES_NOTE,
    GROUPS,
    conv1d_geometry,
    conv_kind,
    framed_filter,
    to_frames,
    use_frames,
)
from fqss_edge.export.tflite.ops_float._common import bias_values, conv_operands
from fqss_edge.export.tflite.registry import register_float


@register_float("Conv", writes=(B.CONV_2D, B.DEPTHWISE_CONV_2D, B.PAD, B.RESHAPE),
                tflite="CONV_2D / DEPTHWISE_CONV_2D (+PAD)",
                constraints=f"1-D (rank-3 input); {GROUPS}; stride, dilation, pads (SAME/VALID or an explicit PAD); "
                            f"constant weights and bias. {FRAMES_NOTE}")
def convert_conv(ctx, node) -> None:
    x, w, out, wf = conv_operands(ctx, node, "convolutions")  # wf: [Cout, Cin/g, K]
    c_out, cg, k = wf.shape
    c_in = x.shape[1]
    geo = conv1d_geometry(ctx.g, node, x.name, x.shape, k)
    bias = bias_values(ctx, node, 2, c_out)
    t = ctx.activation(x, node)
    padding, stride = geo.padding, geo.stride
    code = conv_kind(geo.group, c_in, c_out, cg)
    framed = use_frames(geo, code, c_in)  # the integer path's frames (ops/conv.py)
    if framed:
        t, padding, stride = to_frames(ctx.b, t, geo, out.name), schema.Padding.VALID, 1
    elif padding is None:
        t = pad_time(ctx.b, t, geo.pads[0], geo.pads[1], f"{out.name}/pad")
        padding = schema.Padding.VALID
    if code == B.CONV_2D:
        filt_np = framed_filter(wf, geo.stride) if framed else wf.transpose(0, 2, 1)[:, None]  # [Cout, 1, K, Cin]
        filt = ctx.b.const(w.name, np.ascontiguousarray(filt_np))
        opt = schema.Conv2DOptionsT()
    elif code == B.DEPTHWISE_CONV_2D:
        filt = ctx.b.const(w.name, np.ascontiguousarray(wf[:, 0, :].T[None, None]))  # [1, 1, K, Cout]
        opt = schema.DepthwiseConv2DOptionsT()
        opt.depthMultiplier = c_out // c_in
    else:
        raise ctx.fail(node, f"group {geo.group} with C_in {c_in}, C_out {c_out} and a weight of {cg} input channels "
                             "per group is not a convolution TFLite can express")
    opt.padding = padding
    opt.strideW, opt.strideH = stride, 1
    opt.dilationWFactor, opt.dilationHFactor = geo.dilation, 1
    b = ctx.b.const(node.input[2] if len(node.input) > 2 and node.input[2] else f"{out.name}/bias", bias)
    y = ctx.new_output(out)
    ctx.b.op(code, [t, filt, b], [y], opt)
