"""ONNX Conv on (N, C, T) (DQ(x), DQ(w int8), DQ(b int32) -> Conv -> Q) -> TFLite CONV_2D / DEPTHWISE_CONV_2D.

Layout [N, 1, T, C]: CONV_2D weights [Cout, 1, K, Cin] (quantized_dimension 0), depthwise [1, 1, K, C]
(quantized_dimension 3). Padding: VALID, SAME when the ONNX pads equal TFLite's SAME pads, else a PAD.

A strided convolution of a waveform (stride S > 1, at most ``FRAMED_MAX_CHANNELS`` input channels, group 1, no
dilation; the padded length a multiple of S: the encoders and the FQSS re-encoder) is written on frames:
RESHAPE [N, 1, T, Cin] -> [N, 1, T/S, S*Cin] (the same bytes), then a stride-1 CONV_2D of m = ceil(K/S) taps
over S*Cin channels, ``framed_filter``. The same products and int32 sums (in another order) and the same
per-channel requantization: the same output codes. XNNPACK's int8 CONV_2D with one or two input channels and a
stride is slow (1.10 -> 0.34 ms on the tiny Conv-TasNet's encoder, 4 s, measured before this rewrite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import pad_time, reshape
from fqss_edge.export.tflite.ops._weights import (
    bias_tensor,
    bias_tensor_16x8,
    check_weight,
    optional_bias,
    weight_scales,
)
from fqss_edge.export.tflite.registry import register

Padding = schema.Padding


def same_pads(t: int, k_eff: int, stride: int) -> tuple[int, int]:
    out = -(-t // stride)
    total = max((out - 1) * stride + k_eff - t, 0)
    return total // 2, total - total // 2


def choose_padding(lengths: list[int], pads: tuple[int, int], k_eff: int, stride: int) -> int | None:
    """TFLite padding that reproduces the ONNX pads at every input length in ``lengths`` (None: needs a PAD)."""
    if pads == (0, 0):
        return Padding.VALID
    if all(same_pads(t, k_eff, stride) == pads for t in lengths):
        return Padding.SAME
    return None


@dataclass(frozen=True)
class Conv1dGeometry:
    """Attributes of a 1-D ONNX Conv as TFLite needs them (shared with the float32 converter)."""

    group: int
    stride: int
    dilation: int
    pads: tuple[int, int]
    padding: int | None  # TFLite SAME / VALID, or None: an explicit PAD of ``pads`` then VALID
    fits_frames: bool = False  # group 1, no dilation, stride > 1, padded length a multiple of the stride


# waveform inputs: mono / stereo audio, or its two bytes per channel (the FQSS splitter)
FRAMED_MAX_CHANNELS = 4


def framed_filter(w: np.ndarray, s: int) -> np.ndarray:
    """Conv weights [Cout, Cin, K] -> the CONV_2D filter [Cout, 1, m, s*Cin] (m = ceil(K/s)) over frames of s
    samples, same dtype: filt[co, 0, i, j*Cin + ci] = w[co, ci, i*s + j] (0 past K)."""
    c_out, c_in, k = w.shape
    m = -(-k // s)
    wp = np.zeros((c_out, c_in, m * s), dtype=w.dtype)
    wp[:, :, :k] = w
    return np.ascontiguousarray(wp.reshape(c_out, c_in, m, s).transpose(0, 2, 3, 1).reshape(c_out, 1, m, s * c_in))


def to_frames(b, t, geo: Conv1dGeometry, name: str):
    """[N, 1, T, C] (padded by ``geo.pads``) -> [N, 1, T/S, S*C]: the input of ``framed_filter``'s CONV_2D."""
    t = pad_time(b, t, geo.pads[0], geo.pads[1], f"{name}/pad") if geo.pads != (0, 0) else t
    n, _, f, c = t.shape
    return reshape(b, t, (n, 1, f // geo.stride, c * geo.stride), t.dynamic, f"{name}/frames")


FRAMES_NOTE = (f"A strided waveform conv (stride > 1, <= {FRAMED_MAX_CHANNELS} input channels, group 1, no dilation, "
               "padded length a multiple of the stride) runs on frames: RESHAPE [T, C] -> [T/S, S*C], then a "
               "stride-1 CONV_2D of ceil(K/S) taps (the same sums)")


def use_frames(geo: Conv1dGeometry, code: int, c_in: int) -> bool:
    return geo.fits_frames and code == B.CONV_2D and c_in <= FRAMED_MAX_CHANNELS


def conv1d_geometry(g, node, x_name: str, x_shape: tuple[int, ...], k: int) -> Conv1dGeometry:
    group = int(g.attr(node, "group", 1))
    stride = int((g.attr(node, "strides", None) or [1])[0])
    dil = int((g.attr(node, "dilations", None) or [1])[0])
    auto_pad = g.attr(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    pads = tuple(int(p) for p in (g.attr(node, "pads", None) or [0, 0]))
    k_eff = (k - 1) * dil + 1
    lengths = [x_shape[2], g.shapes2.get(x_name, x_shape)[2]]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = same_pads(lengths[0], k_eff, stride)
        if auto_pad == "SAME_LOWER":
            pads = pads[::-1]
    elif auto_pad == "VALID":
        pads = (0, 0)
    frames = group == 1 and dil == 1 and stride > 1 and all((t + sum(pads)) % stride == 0 for t in lengths)
    return Conv1dGeometry(group, stride, dil, pads, choose_padding(lengths, pads, k_eff, stride), frames)


def conv_kind(group: int, c_in: int, c_out: int, cg: int) -> int | None:
    """The TFLite builtin of a 1-D Conv with ``group`` groups and ``cg`` weight input channels: CONV_2D (group 1, or
    grouped: the filter's input channels C_in / group, version 6), DEPTHWISE_CONV_2D (one input channel per group),
    None when the shapes do not make a convolution (shared with the float32 converter)."""
    if group == 1 or (group != c_in and c_in % group == 0 and c_out % group == 0 and cg == c_in // group):
        return B.CONV_2D
    if group == c_in and cg == 1 and c_out % c_in == 0:
        return B.DEPTHWISE_CONV_2D
    return None


GROUPS = ("any group: 1 -> CONV_2D, C_in with one input channel per group -> DEPTHWISE_CONV_2D, else a grouped "
          "CONV_2D (version 6, TF Lite 2.9; XNNPACK takes it, TFLite's own kernel is the reference one)")


def int4_or_int8(ctx, name: str, wide: bool):
    """How a CONV_2D filter is stored: TensorType INT4 (packed) for the int4 codes a plan declares
    (``fqss.int4_weights``) in an int8 CONV_2D (version 7, TF Lite 2.11: the kernel unpacks it); int8 otherwise.
    Not in DEPTHWISE_CONV_2D (its version 7 is missing from LiteRT's BUILTIN_REF resolver, which stops at 6, so
    it could not be checked) nor in a 16x8 CONV_2D (no version declares an int16 x int4 CONV_2D)."""
    return ctx.b.const_int4 if name in ctx.g.metadata_json("fqss.int4_weights", []) and not wide else ctx.b.const


@register("Conv", writes=(B.CONV_2D, B.DEPTHWISE_CONV_2D, B.PAD, B.QUANTIZE, B.RESHAPE), bits=(8, 16),
          tflite="CONV_2D / DEPTHWISE_CONV_2D (+PAD) (+QUANTIZE int8 <-> int16 around a 16x8 one)",
          constraints=f"1-D (rank-3 input); {GROUPS}; stride, dilation, pads (SAME/VALID or an explicit PAD); int8 "
                      "weights per output channel, zero points 0; int32 bias of scale s_in*s_w. int16 input or "
                      "output (a mixed-precision plan): 16x8 (int16 activations with zero point 0, int8 weights, "
                      "int64 bias); an int8 input is widened first (QUANTIZE to s/128, exact), an int8 output "
                      "is computed at s_out/128 in int16, then QUANTIZE. int4 codes a plan declares "
                      "(fqss.int4_weights): TensorType INT4 in an int8 CONV_2D (version 7, TF Lite 2.11), int8 "
                      f"codes elsewhere. {FRAMES_NOTE}")
def convert_conv(ctx, node) -> None:
    x, w = ctx.qinput(node, 0), ctx.qinput(node, 1)
    bias = optional_bias(ctx, node, 2)
    out = ctx.qoutput(node, fuse=("Relu",))
    if len(x.shape) != 3:
        raise ctx.fail(node, f"only 1-D convolutions (rank-3 input) are supported, got input shape {x.shape}")
    wide = x.bits == 16 or out.bits == 16  # 16x8: int16 activations, int8 weights
    if not x.q.per_tensor:
        raise ctx.fail(node, "per-channel activation quantization is not supported")
    check_weight(ctx, node, w, 0)
    wq = w.const  # [Cout, Cin/g, K]
    c_out, cg, k = wq.shape
    c_in = x.shape[1]
    geo = conv1d_geometry(ctx.g, node, x.name, x.shape, k)
    group, stride, dil, pads = geo.group, geo.stride, geo.dilation, geo.pads
    s_w = weight_scales(w, c_out)
    t, s_t = ctx.widened(x, node) if wide else (ctx.activation(x, node), x.scalar_scale)
    code = conv_kind(group, c_in, c_out, cg)
    framed = use_frames(geo, code, c_in)
    padding = geo.padding
    if framed:
        t, wq, stride, padding = to_frames(ctx.b, t, geo, out.name), framed_filter(wq, stride), 1, Padding.VALID
    elif padding is None:
        t = pad_time(ctx.b, t, pads[0], pads[1], f"{out.name}/pad")
        padding = Padding.VALID
    if wide:
        b = bias_tensor_16x8(ctx, node, bias, x.scalar_scale, round(x.scalar_scale / s_t), s_w, out.name)
        y, finish = ctx.wide_output(out)
    else:
        b = bias_tensor(ctx, node, bias, x.scalar_scale, s_w, out.name)
        y, finish = ctx.new_output(out), None
    if code == B.CONV_2D:
        filt_np = wq if framed else np.ascontiguousarray(wq.transpose(0, 2, 1)[:, None])  # [Cout, 1, K, Cin]
        filt = int4_or_int8(ctx, w.name, wide)(w.name, filt_np, Quant.make(s_w, np.zeros(c_out), 0))
        opt = schema.Conv2DOptionsT()
    elif code == B.DEPTHWISE_CONV_2D:
        filt = ctx.b.const(w.name, np.ascontiguousarray(wq[:, 0, :].T[None, None]),  # [1, 1, K, Cout]
                           Quant.make(s_w, np.zeros(c_out), 3))
        opt = schema.DepthwiseConv2DOptionsT()
        opt.depthMultiplier = c_out // c_in
    else:
        raise ctx.fail(node, f"group {group} with C_in {c_in}, C_out {c_out} and a weight of {cg} input channels per "
                             "group is not a convolution TFLite can express")
    opt.padding = padding
    if out.fused:  # Conv -> Relu -> Q: the clamp at the output zero point
        opt.fusedActivationFunction = schema.ActivationFunctionType.RELU
    opt.strideW, opt.strideH = stride, 1
    opt.dilationWFactor, opt.dilationHFactor = dil, 1
    ctx.b.op(code, [t, filt, b], [y], opt)
    if finish is not None:
        finish()
