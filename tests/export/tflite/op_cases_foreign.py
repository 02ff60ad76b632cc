"""One-node cases: the operators of QDQ graphs other quantizers emit (onnxruntime quantize_static, Brevitas,
PT2E): a torch Linear as Gemm or MatMul with a constant weight, ..."""

from __future__ import annotations

import numpy as np
from op_case_kit import I16, RESIZE, Case, R, act, bias, out_q, wq
from qdq_builder import QDQ


def c_gemm_linear(bits):  # torch Linear on [B, K]: transB=1, weights per output channel (axis 0), int32 bias
    b = QDQ()
    b.in_shape = [2, 16]
    x = b.input(0.05, 3)
    w, s = wq((8, 16), 8)
    b.output(b.op("Gemm", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.05, s)], (0.08, -5), transB=1))
    return b


def c_gemm_weight_kn_per_tensor(bits):  # transB=0 ([K, N] weight), one weight scale, no bias
    b = QDQ()
    b.in_shape = [3, 10]
    x = b.input(0.04, -7)
    w = b.qconst(R.integers(-127, 128, (10, 5)), np.float32(0.013))
    b.output(b.op("Gemm", [b.dq(x), w], (0.06, 2)))
    return b


def c_matmul_linear_time(bits):  # Linear on [B, T, C] between two Transposes: FULLY_CONNECTED over channels
    b = QDQ(channels=6, length=12)
    x = b.input(0.05, -4)
    xt = b.op("Transpose", [b.dq(x)], (0.05, -4), perm=[0, 2, 1])
    w, s = wq((6, 5), 5)
    y = b.op("MatMul", [b.dq(xt), b.qconst(w, s, axis=1)], (0.07, 6))
    b.output(b.op("Transpose", [b.dq(y)], (0.07, 6), perm=[0, 2, 1]))
    return b


def c_matmul_linear_rank4(bits):  # Linear on the last axis of a rank-4 activation
    b = QDQ()
    b.in_shape = [1, 2, 5, 6]
    x = b.input(0.05, 1)
    w, s = wq((6, 4), 4)
    b.output(b.op("MatMul", [b.dq(x), b.qconst(w, s, axis=1)], (0.07, -2)))
    return b


# -- Clip ---------------------------------------------------------------------------------------------------------
def _conv_clip(lo, hi, q_conv=(0.05, -20), q_clip=None):
    def build(bits):  # a conv, then Clip(lo, hi) (ReLU6: 0, 6; Hardtanh: -1, 1); q_clip: the Clip's own output Q
        b = QDQ(channels=3, length=20)
        x = b.input(0.04, 2)
        w, s = wq((4, 3, 3), 4)
        y = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], q_conv, kernel_shape=[3], pads=[1, 1])
        bounds = [b.const(np.array(v, np.float32)) if v is not None else "" for v in (lo, hi)]
        b.output(b.op("Clip", [b.dq(y), *bounds], q_clip or q_conv))
        return b
    return build


def _clip(lo, hi, q_out):
    def build(bits):  # a Clip of the graph input, requantized to q_out
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        bounds = [b.const(np.array(v, np.float32)) if v is not None else "" for v in (lo, hi)]
        b.output(b.op("Clip", [b.dq(x), *bounds], out_q(bits, *q_out)))
        return b
    return build


def c_gemm_relu(bits):  # Linear -> ReLU: the RELU is fused into the FULLY_CONNECTED
    b = QDQ()
    b.in_shape = [2, 12]
    x = b.input(0.05, 3)
    w, s = wq((6, 12), 6)
    y = b.op("Gemm", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.05, s)], (0.08, -5), transB=1)
    b.output(b.op("Relu", [b.dq(y)], (0.08, -5)))
    return b


# -- data movement with a requantization (the Q range of a Clip quantize_static folded) ----------------------------
def _moved(op, *args, **attrs):
    def build(bits):  # x -> op -> Q with another scale / zero point: the op, then a QUANTIZE
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        ins = [b.dq(x)] + [b.const(np.array(v, dtype=np.int64)) for v in args]
        b.output(b.op(op, ins, out_q(bits, 0.02, -128), **attrs))
        return b
    return build


# -- grouped convolution, ConvTranspose with output_padding -------------------------------------------------------
def c_conv_grouped(bits):  # group 2 of 4 input channels (2 per group), 6 outputs: a grouped CONV_2D
    b = QDQ(channels=4, length=20)
    x = b.input(0.04, 2)
    w, s = wq((6, 2, 3), 6)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.04, s)], (0.05, -3), kernel_shape=[3],
                  group=2, pads=[1, 1]))
    return b


def _conv_transpose(k, stride, pads, output_padding):
    def build(bits):  # torch ConvTranspose1d(4, 3, k, stride, padding, output_padding)
        b = QDQ(channels=4, length=10)
        x = b.input(0.05, 3)
        w, s = wq((4, 3, k), 3)
        b.output(b.op("ConvTranspose", [b.dq(x), b.qconst(w, s, axis=1), bias(b, 0.05, s)], (0.02, 1),
                      kernel_shape=[k], strides=[stride], pads=pads, output_padding=[output_padding]))
        return b
    return build


# -- broadcasting element-wise operators ---------------------------------------------------------------------------
def _broadcast(op, axis, squeeze=False, swap=False):
    def build(bits):  # x [1, C, T] (op) the first slice of x along ``axis``: [1, C, 1], [1, 1, T], or [1, T] squeezed
        b = QDQ(channels=4, length=12)
        x = b.input(*act(bits))
        c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
        m = b.op("Slice", [b.dq(x), c([0]), c([1]), c([axis])], act(bits))  # exact: the operand's own rounding is not
        if squeeze:  # what is tested
            m = b.op("Squeeze", [b.dq(m), c([axis])], act(bits))
        ins = [b.dq(x), b.dq(m)]
        b.output(b.op(op, ins[::-1] if swap else ins, out_q(bits, 0.06, 4)))
        return b
    return build


def _const_broadcast(op, shape):
    def build(bits):  # x [1, C, T] (op) an integer constant of a broadcastable shape
        b = QDQ(channels=4, length=12)
        x = b.input(*act(bits))
        c = b.qconst(R.integers(-127, 128, shape), np.float32(0.011), bits=bits)
        b.output(b.op(op, [c, b.dq(x)], out_q(bits, 0.05, 1)))
        return b
    return build


# -- any axis, any permutation, any step -------------------------------------------------------------------------
def _shaped(shape):
    """A QDQ builder with an input of ``shape`` ([1, C, T] when ``shape`` is None)."""
    b = QDQ(channels=4, length=12)
    if shape is not None:
        b.in_shape = list(shape)
    return b


def _softmax(axis, shape=None, q=(1 / 256, -128)):
    def build(bits):  # q: quantize_static writes (1/255, -128) (SOFTMAX's fixed 1/256 is then requantized)
        b = _shaped(shape)
        x = b.input(0.06, -3)
        b.output(b.op("Softmax", [b.dq(x)], q, axis=axis))
        return b
    return build


def _unary_any(op, q, shape=None):
    def build(bits):
        b = _shaped(shape)
        x = b.input(0.03, -6)
        b.output(b.op(op, [b.dq(x)], q))
        return b
    return build


def _tanh(shape, q=(1 / 128, 0)):
    return _unary_any("Tanh", q, shape)


def _permute(perm, shape=None):
    def build(bits):
        b = _shaped(shape)
        x = b.input(*act(bits))
        b.output(b.op("Transpose", [b.dq(x)], act(bits), perm=perm))
        return b
    return build


def _strided(starts, ends, axes, steps, shape=None):
    def build(bits):  # x[::2], x[::-1], ... on any axis
        b = _shaped(shape)
        x = b.input(*act(bits))
        c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
        b.output(b.op("Slice", [b.dq(x), c(starts), c(ends), c(axes), c(steps)], act(bits)))
        return b
    return build


BIG = 2**63 - 1


# -- Pad: reflect, another constant ------------------------------------------------------------------------------
def _pad(pads, mode="constant", value=None, q=None):
    def build(bits):  # q: the output's quantization when it is not the input's (a QUANTIZE follows)
        b = QDQ(channels=4, length=12)
        x = b.input(*act(bits))
        ins = [b.dq(x), b.const(np.array(pads, dtype=np.int64))]
        if value is not None:
            ins.append(b.const(np.array(value, dtype=np.float32)))
        b.output(b.op("Pad", ins, out_q(bits, *q) if q else act(bits), mode=mode))
        return b
    return build


# -- Resize along time (torch Upsample / interpolate) ---------------------------------------------------------------
def _resize(mode, ctm, scale=None, size=None, nearest_mode=None, q=None):
    def build(bits):  # [1, 4, 12] -> [1, 4, 12 * scale] (or size); q: another output quantization
        b = QDQ(channels=4, length=12)
        x = b.input(*act(bits))
        if size is None:
            ins = [b.dq(x), "", b.const(np.array([1, 1, scale], dtype=np.float32))]
        else:
            ins = [b.dq(x), "", "", b.const(np.array([1, 4, size], dtype=np.int64))]
        attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
        if nearest_mode:
            attrs["nearest_mode"] = nearest_mode
        b.output(b.op("Resize", ins, out_q(bits, *q) if q else act(bits), **attrs))
        return b
    return build


CASES: dict[str, list[Case]] = {
    "Gemm": [Case("linear", c_gemm_linear),
             Case("weight_kn_per_tensor", c_gemm_weight_kn_per_tensor)],
    "MatMul": [Case("linear_over_channels", c_matmul_linear_time, lengths=RESIZE),
               Case("linear_rank4", c_matmul_linear_rank4)],
    "Clip": [Case("relu6_fused", _conv_clip(0.0, 6.0)),
             Case("hardtanh_fused", _conv_clip(-1.0, 1.0, (0.01, 3))),
             Case("min_only_fused_relu", _conv_clip(0.0, None)),
             Case("relu6_requantized", _conv_clip(0.0, 6.0, q_clip=(0.03, -128))),
             Case("clamp", _clip(-0.3, 0.5, (0.04, 5)), I16, lengths=RESIZE),
             Case("max_only", _clip(None, 0.5, (0.04, 5)), I16),
             Case("beyond_q_range", _clip(-20.0, 20.0, (0.05, 0)), I16)],
    "Relu": [Case("gemm_relu_fused", c_gemm_relu)],
    # XNNPACK takes neither MIRROR_PAD nor PADV2: their float twins run in TFLite's kernels
    "Pad": [Case("requantized", _moved("Pad", [0, 1, 2, 0, 0, 3]), I16, lengths=RESIZE),
            Case("reflect_time", _pad([0, 0, 3, 0, 0, 2], "reflect"), I16, lengths=RESIZE, delegated=False),
            Case("reflect_channels_requantized", _pad([0, 2, 0, 0, 1, 0], "reflect", q=(0.05, 7)), I16,
                 delegated=False),
            Case("value", _pad([0, 1, 2, 0, 0, 3], value=0.5), I16, lengths=RESIZE, delegated=False),
            Case("value_requantized", _pad([0, 0, 2, 0, 0, 3], value=-0.3, q=(0.05, 7)), I16, delegated=False)],
    "Conv": [Case("grouped", c_conv_grouped, lengths=RESIZE)],
    "ConvTranspose": [Case("output_padding_within_pad", _conv_transpose(3, 2, [1, 1], 1), lengths=RESIZE),
                      Case("output_padding_past_pad", _conv_transpose(4, 2, [0, 0], 1), lengths=RESIZE),
                      Case("output_padding_stride3", _conv_transpose(5, 3, [1, 0], 2), lengths=RESIZE)],
    "Mul": [Case("by_channel_gate", _broadcast("Mul", 2), I16, lengths=RESIZE),
            Case("by_time_gate", _broadcast("Mul", 1, swap=True), I16, lengths=RESIZE),
            Case("lower_rank_activation", _broadcast("Mul", 1, squeeze=True), I16, lengths=RESIZE),
            Case("const_time_vector", _const_broadcast("Mul", (12,)), I16)],
    "Add": [Case("by_channel", _broadcast("Add", 2), I16, lengths=RESIZE),
            Case("lower_rank_activation", _broadcast("Add", 1, squeeze=True, swap=True), I16),
            Case("const_channel_column", _const_broadcast("Add", (4, 1)), I16, lengths=RESIZE)],
    "Sub": [Case("by_time", _broadcast("Sub", 1, swap=True), I16, lengths=RESIZE),
            Case("lower_rank_activation", _broadcast("Sub", 1, squeeze=True), I16),
            Case("const_minus_x", _const_broadcast("Sub", (1, 4, 1)), I16)],
    "Softmax": [Case("over_time", _softmax(-1), lengths=RESIZE),
                Case("rank2_last", _softmax(-1, (3, 10))),
                Case("rank4_axis2", _softmax(2, (1, 3, 5, 4))),
                Case("quantize_static_range", _softmax(1, q=(np.float32(1 / 255), -128)))],
    "Tanh": [Case("rank2", _tanh((3, 10))),
             Case("rank4", _tanh((1, 3, 5, 4))),
             Case("calibrated_range", _tanh(None, (np.float32(2 / 255), 0))),
             Case("asymmetric_range", _tanh(None, (0.006, -20)))],
    "Sigmoid": [Case("quantize_static_range", _unary_any("Sigmoid", (np.float32(1 / 255), -128)))],
    "Transpose": [Case("requantized", _moved("Transpose", perm=[0, 2, 1]), I16),
                  Case("rank3_rotate", _permute([1, 2, 0]), I16),
                  Case("rank3_rotate_back", _permute([2, 0, 1], (1, 4, 12)), I16),
                  Case("rank4_channels_last", _permute([0, 2, 3, 1], (1, 3, 5, 4)), I16),
                  Case("rank4_any", _permute([3, 1, 0, 2], (2, 3, 5, 4)), I16),
                  Case("rank2", _permute([1, 0], (3, 10)), I16)],
    # XNNPACK takes STRIDED_SLICE with strides of 1 only: the float twins of these run in TFLite's kernel
    "Slice": [Case("requantized", _moved("Slice", [2], [-3], [2]), I16, lengths=RESIZE),
              Case("time_step2", _strided([1], [BIG], [2], [2]), I16, lengths=RESIZE, delegated=False),
              Case("time_reversed", _strided([-1], [-BIG], [-1], [-1]), I16, lengths=RESIZE, delegated=False),
              Case("channels_reversed_step2", _strided([3, 1], [-BIG, -2], [1, 2], [-2, 1]), I16, lengths=RESIZE,
                   delegated=False),
              Case("rank4_steps", _strided([0, 4], [3, 0], [1, 2], [2, -2], (1, 3, 5, 4)), I16, delegated=False)],
    # RESIZE_BILINEAR places sources with 10 fractional bits: ratios that are multiples of 1/1024 (here 1/2, 1/4,
    # 11/22) match onnxruntime; others (1/3) can differ by more than 1 LSB on steep inputs. A nearest resize by an
    # integer factor is a frame repeat (RESHAPE + CONCATENATION, any length); XNNPACK does not take
    # RESIZE_NEAREST_NEIGHBOR (the float twin of align_corners runs in TFLite's kernel)
    "Resize": [Case("nearest_x2", _resize("nearest", "asymmetric", 2.0, nearest_mode="floor"), I16, lengths=RESIZE),
               Case("nearest_x3", _resize("nearest", "asymmetric", 3.0, nearest_mode="floor"), I16, lengths=RESIZE),
               Case("nearest_half_pixel", _resize("nearest", "half_pixel", 2.0, nearest_mode="round_prefer_ceil"),
                    I16, lengths=RESIZE),
               Case("nearest_x2_requantized", _resize("nearest", "asymmetric", 2.0, nearest_mode="floor",
                                                      q=(0.05, -7)), I16),
               Case("nearest_align_corners", _resize("nearest", "align_corners", size=23,
                                                     nearest_mode="round_prefer_ceil"), I16, delegated=False),
               Case("linear_x2", _resize("linear", "pytorch_half_pixel", 2.0), I16),
               Case("linear_x4_half_pixel", _resize("linear", "half_pixel", 4.0), I16),
               Case("linear_align_corners", _resize("linear", "align_corners", size=23), I16),
               Case("linear_asymmetric", _resize("linear", "asymmetric", 2.0), I16),
               Case("linear_requantized", _resize("linear", "pytorch_half_pixel", 2.0, q=(0.05, -7)), I16)],
}
