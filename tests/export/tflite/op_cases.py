"""The one-node test cases of every operator, keyed by the op type of its converter (an ONNX op type, or
``island:<name>`` for a declared I/O island): the single table that the int8 tests (``test_ops.py``), the
float32 tests (``test_ops_float.py``) and the guard (``test_operator_units.py``) read.

A case builds a small QDQ graph (``qdq_builder.QDQ``) for a bit width. The int8 test converts it; unless
``float32=False``, the float32 test converts the same graph with its Q/DQ pairs removed
(``qdq_builder.strip_qdq``), so one case tests an operator's converter and its float twin. A float-only case
(``bits=()``) builds a plain float graph. Adding an operator: add its cases under its op type.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from qdq_builder import QDQ, fqss_identity_model, strip_qdq, vanilla_model

R = np.random.default_rng(7)  # weights: re-seeded from the case name by Case.model


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[int], QDQ | onnx.ModelProto]  # bit width -> graph (a float-only case ignores it)
    bits: tuple[int, ...] = (8,)  # activation bit widths; () for a float-only case
    tol: int | dict[int, int] = 1  # LSB vs onnxruntime (per bit width if a dict)
    io: str = "quantized"  # the .tflite I/O (``convert_model(io=...)``): the case's quantized tensors by default
    float32: bool = True  # also convert strip_qdq(graph) with the float32 converters (the float twin)
    lengths: tuple[int, ...] = ()  # also export with a symbolic length T and run at each of these lengths
    positive: bool = False  # inputs >= 0 (Sqrt)
    min_runtime: str | None = None  # ``convert_model(min_runtime=...)``: the variant for an older runtime
    delegated: bool = True  # XNNPACK takes the whole float32 graph (False: it has no kernel for the operator)

    @property
    def int8(self) -> bool:
        return bool(self.bits)

    def lsb_tolerance(self, bits: int) -> int:
        return self.tol[bits] if isinstance(self.tol, dict) else self.tol

    def model(self, bits: int, resizable: bool = False) -> onnx.ModelProto:
        """The case's graph (QDQ, or plain float for a float-only case); ``resizable``: symbolic length T. The
        same weights at every call, whichever tests run before."""
        R.bit_generator.state = np.random.PCG64(zlib.crc32(self.name.encode())).state
        b = self.build(bits)
        if isinstance(b, onnx.ModelProto):
            return b
        if resizable:
            b.in_shape[2] = "T"
            b.metadata["fqss.stride"] = "2"
        return b.model()

    def float_model(self, resizable: bool = False) -> onnx.ModelProto:
        return strip_qdq(self.model(self.bits[0] if self.bits else 32, resizable))


# -- builders ---------------------------------------------------------------------------------------------------
def wq(shape, n_out):
    """Random int8 weight codes and per-channel scales."""
    return R.integers(-127, 128, shape), R.uniform(0.002, 0.02, n_out).astype(np.float32)


def bias(b: QDQ, s_in: float, s_w: np.ndarray):
    return b.qconst(R.integers(-3000, 3000, s_w.size), (np.float32(s_in) * s_w).astype(np.float32), bits=32, axis=0)


def act(bits):
    return (0.04, 5, 8) if bits == 8 else (0.0004, 0, 16)


def out_q(bits, scale=0.05, zp=-3):
    return (scale, zp, 8) if bits == 8 else (scale / 100, 0, 16)


def f32(v):
    return np.asarray(v, dtype=np.float32)


def c_conv_pointwise(bits):
    b = QDQ(channels=4, length=24)
    x = b.input(*act(bits))
    w, s = wq((6, 4, 1), 6)
    y = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], out_q(bits, 0.1), kernel_shape=[1])
    b.output(y)
    return b


def c_conv_strided(bits):  # the Conv-TasNet encoder: K=16, stride 8, no bias, 2 input channels (PCM bytes)
    b = QDQ(channels=2, length=64)
    x = b.input(1 / 128, 0)
    w, s = wq((8, 2, 16), 8)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.2, -128), kernel_shape=[16], strides=[8]))
    return b


def c_conv_depthwise_dilated(bits):  # the TCN's depthwise conv: SAME-like pads, dilation
    b = QDQ(channels=6, length=40)
    x = b.input(*act(bits))
    w, s = wq((6, 1, 3), 6)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], (0.03, 2), kernel_shape=[3],
                  group=6, dilations=[4], pads=[4, 4]))
    return b


def c_conv_causal_pad(bits):  # pads TFLite cannot express: an explicit PAD
    b = QDQ(channels=3, length=20)
    x = b.input(*act(bits))
    w, s = wq((5, 3, 3), 5)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.05, 0), kernel_shape=[3], pads=[2, 0]))
    return b


def c_conv_transpose(bits):  # the decoder: K=16, stride 8, one output channel
    b = QDQ(channels=8, length=12)
    x = b.input(0.05, -10)
    w, s = wq((8, 1, 16), 1)
    b.output(b.op("ConvTranspose", [b.dq(x), b.qconst(w, s, axis=1)], (1 / 128, 0), kernel_shape=[16], strides=[8]))
    return b


def c_conv_transpose_pads_bias(bits):
    b = QDQ(channels=4, length=10)
    x = b.input(0.05, 3)
    w, s = wq((4, 3, 5), 3)
    y = b.op("ConvTranspose", [b.dq(x), b.qconst(w, s, axis=1), bias(b, 0.05, s)], (0.02, 1), kernel_shape=[5],
             strides=[2], pads=[1, 2])
    b.output(y)
    return b


def c_conv_relu(bits):  # encoder -> ReLU: the RELU is fused into the CONV_2D, a QUANTIZE rescales
    b = QDQ(channels=2, length=64)
    x = b.input(1 / 128, 0)
    w, s = wq((8, 2, 16), 8)
    enc = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.2, 3), kernel_shape=[16], strides=[8])
    b.output(b.op("Relu", [b.dq(enc)], (0.1, -128)))
    return b


def _unary(op, scale, zp, **attrs):
    def build(bits):
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        b.output(b.op(op, [b.dq(x)], out_q(bits, scale, zp), **attrs))
        return b
    return build


def c_sigmoid(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(0.06, 2)
    b.output(b.op("Sigmoid", [b.dq(x)], (1 / 256, -128)))
    return b


def c_tanh(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(0.03, -6)
    b.output(b.op("Tanh", [b.dq(x)], (1 / 128, 0)))
    return b


def _two(op):
    def build(bits):
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        r = b.op("Relu", [b.dq(x)], out_q(bits, 0.02, -128))
        b.output(b.op(op, [b.dq(x), b.dq(r)], out_q(bits, 0.06, 4)))
        return b
    return build


def c_mul_square(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("Mul", [b.dq(x), b.dq(x)], out_q(bits, 0.08, -128)))
    return b


def c_mul_square_codes(bits):  # gLN int8 statistics: squares of the codes at scale s^2, exact up to 255
    b = QDQ(channels=3, length=16)
    s = np.float32(0.04)
    x = b.input(s, 0)
    b.output(b.op("Mul", [b.dq(x), b.dq(x)], (np.float32(s * s), -128, 8)))
    return b


def c_add_const_saturating(bits):  # gLN int8 statistics: sq - 255 s^2, negative values saturate to 0
    b = QDQ(channels=3, length=16)
    x = b.input(0.5, -128)
    t = b.qconst(np.array(-1), np.float32(40.0), bits=8)
    b.output(b.op("Add", [b.dq(x), t], (0.35, -128, 8)))
    return b


def _const_operand(op):
    def build(bits):  # gLN gamma / beta: an integer per-tensor [1, C, 1] constant
        b = QDQ(channels=4, length=16)
        x = b.input(*act(bits))
        c = b.qconst(R.integers(-127, 128, (1, 4, 1)), np.float32(0.011), bits=bits)
        b.output(b.op(op, [b.dq(x), c], out_q(bits, 0.05, 1)))
        return b
    return build


def c_mul_const_per_channel(bits):  # float gLN gamma: one value per channel (int8 needs a per-tensor constant)
    b = QDQ(channels=4, length=16)
    b.float_output(b.node("Mul", ["mixture", b.const((R.standard_normal((1, 4, 1)) * 0.3).astype(np.float32))]))
    return b


def c_mask_broadcast(bits):  # Conv-TasNet masking: [1, S*N, F] masks x unsqueezed [1, 1, N, F] -> [S, N, F]
    b = QDQ(channels=6, length=10)
    x = b.input(0.05, 0)
    w, s = wq((3, 6, 1), 3)
    enc = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.04, -7), kernel_shape=[1])
    masks = b.op("Reshape", [b.dq(x), b.const(np.array([1, 2, 3, -1], dtype=np.int64))], (0.05, 0))
    e4 = b.op("Unsqueeze", [b.dq(enc), b.const(np.array([1], dtype=np.int64))], (0.04, -7))
    m = b.op("Mul", [b.dq(e4), b.dq(masks)], (0.03, 2))
    b.output(b.op("Reshape", [b.dq(m), b.const(np.array([2, 3, -1], dtype=np.int64))], (0.03, 2)))
    return b


def c_reduce_mean(bits):  # gLN: mean over channels and time
    b = QDQ(channels=5, length=20)
    x = b.input(*act(bits))
    b.output(b.op("ReduceMean", [b.dq(x), b.const(np.array([1, 2], dtype=np.int64))], out_q(bits, 0.01, 3),
                  keepdims=1))
    return b


def c_reduce_mean_time_then_channels(bits):  # gLN written as a float ReduceMean over T, then over C: one MEAN
    b = QDQ(channels=5, length=20)
    x = b.input(*act(bits))
    m = b.node("ReduceMean", [b.dq(x), b.const(np.array([2], dtype=np.int64))], keepdims=1)
    b.output(b.op("ReduceMean", [m, b.const(np.array([1], dtype=np.int64))], out_q(bits, 0.01, 3), keepdims=1))
    return b


def c_rsqrt(bits):
    b = QDQ(channels=2, length=16)
    x = b.input(*((0.05, -128, 8) if bits == 8 else (0.0004, 0, 16)))
    s = b.node("Sqrt", [b.dq(x)])
    b.output(b.op("Reciprocal", [s], (0.03, -128, 8) if bits == 8 else (2.0 / 32767, 0, 16)))
    return b


def c_requantize(bits):  # int8 -> int16 -> int8 (gLN widening / narrowing), or int8 -> int8
    b = QDQ(channels=3, length=16)
    x = b.input(0.04, 5)
    if bits == 16:
        w = b.q(b.dq(x), 0.0003, 0, 16)
        b.output(b.q(b.dq(w), 0.05, -2))
    else:
        b.output(b.q(b.dq(x), 0.07, 9))
    return b


def _concat(requantize: bool):
    def build(bits):  # requantize: the output is quantized unlike the graph input (a QUANTIZE first)
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        q = act(bits)
        q = (q[0] * 2, q[1], bits) if requantize else q
        r = b.op("Relu", [b.dq(x)], q)
        b.output(b.op("Concat", [b.dq(x), b.dq(r)], q, axis=1))
        return b
    return build


def _shape_op(op, channels, arg, q_out=None, **attrs):
    def build(bits):  # one shape-only op; q_out: a different output quantization (a QUANTIZE follows)
        b = QDQ(channels=channels, length=16)
        x = b.input(*act(bits))
        ins = [b.dq(x)] + ([b.const(np.array(arg, dtype=np.int64))] if arg is not None else [])
        b.output(b.op(op, ins, out_q(bits, *q_out) if q_out else act(bits), **attrs))
        return b
    return build


def c_reshape_squeeze_unsqueeze(bits):  # through ONNX order: [1, 1, 16] -> [1, 16] -> [1, 1, 16] -> [1, 4, 4]
    b = QDQ(channels=1, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    sq = b.op("Squeeze", [b.dq(x), b.const(np.array([1], dtype=np.int64))], q)
    u = b.op("Unsqueeze", [b.dq(sq), b.const(np.array([0], dtype=np.int64))], q)
    b.output(b.op("Reshape", [b.dq(u), b.const(np.array([1, 4, 4], dtype=np.int64))], q))
    return b


def c_reshape_to_sources(bits):  # the decoder's input: [1, S*N, F] -> [1, S, N, F] -> [S, N, F] (a TRANSPOSE)
    b = QDQ(channels=6, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    m = b.op("Reshape", [b.dq(x), b.const(np.array([1, 2, 3, -1], dtype=np.int64))], q)
    b.output(b.op("Reshape", [b.dq(m), b.const(np.array([2, 3, -1], dtype=np.int64))], q))
    return b


def c_pcm16_in_out(bits):  # int16 PCM in and out: QUANTIZE at both ends, TRANSPOSEs to and from [N, 1, T, C]
    b = QDQ(channels=3, length=16)
    x = b.input(0.01, 0)
    b.output(b.op("Relu", [b.dq(x)], (0.003, -128)))
    return b


def c_floor(bits):
    b = QDQ(channels=3, length=16)
    b.float_output(b.node("Floor", [b.node("Mul", ["mixture", b.const(f32(100.0))])]))
    return b


def c_clip_one_sided(bits):
    b = QDQ(channels=2, length=16)
    b.float_output(b.node("Clip", ["mixture", "", b.const(f32(0.25))]))
    return b


def c_input_splitter_float(bits):  # the float form of the FQSS input splitter: PCM bytes with Floor and Clip
    b = QDQ(channels=1, length=48)
    c = lambda v: b.const(f32(v))  # noqa: E731
    hi_x = b.node("Mul", ["mixture", c(128.0)])
    hi = b.node("Clip", [b.node("Floor", [hi_x]), c(-128.0), c(127.0)])
    lo = b.node("Floor", [b.node("Mul", [b.node("Sub", [hi_x, hi]), c(256.0)])])
    lo = b.node("Clip", [b.node("Sub", [lo, c(128.0)]), c(-128.0), c(127.0)])
    b.float_output(b.node("Mul", [b.node("Concat", [hi, lo], axis=1), c(1 / 128)]))
    return b


def _heads(b: QDQ, x: str, heads: int, q: tuple) -> str:
    """[1, H*d, L] -> [H, d, L] (attention heads as the batch)."""
    return b.op("Reshape", [b.dq(x), b.const(np.array([heads, -1, b.in_shape[2]], dtype=np.int64))], q)


def c_matmul(bits):  # attention: scores = K^T Q over heads ([H, dk, L] -> [H, L, dk] x [H, dk, L])
    b = QDQ(channels=8, length=6)
    x = _heads(b, b.input(0.05, 3), 2, (0.05, 3))
    k = b.op("Relu", [b.dq(x)], (0.03, -128))
    kt = b.op("Transpose", [b.dq(k)], (0.03, -128), perm=[0, 2, 1])
    b.output(b.op("MatMul", [b.dq(kt), b.dq(x)], (0.02, -5)))
    return b


def c_matmul_values(bits):  # attention: out = V P, P the softmax output [H, Lk, Lq]
    b = QDQ(channels=12, length=6)
    x = _heads(b, b.input(0.05, 3), 2, (0.05, 3))
    p = b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1)
    b.output(b.op("MatMul", [b.dq(x), b.dq(p)], (0.03, 1)))
    return b


def c_softmax(bits):
    b = QDQ(channels=14, length=5)
    x = _heads(b, b.input(0.09, -4), 2, (0.09, -4))
    b.output(b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1))
    return b


def c_softmax_wide(bits):  # a larger input scale: many inputs below diff_min (outputs -128)
    b = QDQ(channels=40, length=3)
    x = b.input(0.6, 0)
    b.output(b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1))
    return b


def _transpose(channels, length, perm):
    def build(bits):
        b = QDQ(channels=channels, length=length)
        x = b.input(*act(bits))
        b.output(b.op("Transpose", [b.dq(x)], act(bits), perm=perm))
        return b
    return build


def c_pad(bits):  # dual-path segmentation: zeros around the time axis
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("Pad", [b.dq(x), b.const(np.array([0, 0, 2, 0, 0, 5], dtype=np.int64))], act(bits)))
    return b


def _slice(starts, ends, axes):
    def build(bits):  # dual-path segmentation / overlap-add: x[..., P:], x[..., :-P]
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
        b.output(b.op("Slice", [b.dq(x), c(starts), c(ends), c(axes)], act(bits)))
        return b
    return build


def c_slice_rank4(bits):  # overlap-add: the two halves of [B, N, S, 2K] chunks
    b = QDQ(channels=4, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    x4 = b.op("Reshape", [b.dq(x), b.const(np.array([1, 4, -1, 8], dtype=np.int64))], q)
    c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
    b.output(b.op("Slice", [b.dq(x4), c([4]), c([8]), c([3])], q))
    return b


# -- the table --------------------------------------------------------------------------------------------------
I8, I16 = (8,), (8, 16)
RESIZE = (6, 18, 40)
def _lstm(time: int, batch: int, direction: str = "forward", n_in: int = 6, hidden: int = 8):
    """One direction of a QLSTM as its emitter writes it: time major, W / R per gate matrix (one scale per gate,
    written per row, ONNX gate order), int32 bias at s_x * s_W (recurrent half 0), the cell scale in metadata."""
    def build(bits):
        b = QDQ()
        b.in_shape = [time, batch, n_in]
        s_x = 0.04
        x = b.input(s_x, 5)
        gate_w, gate_r = R.uniform(0.004, 0.02, 4).astype(np.float32), R.uniform(0.004, 0.02, 4).astype(np.float32)
        w = b.qconst(R.integers(-127, 128, (1, 4 * hidden, n_in)), np.repeat(gate_w, hidden), axis=1)
        r = b.qconst(R.integers(-127, 128, (1, 4 * hidden, hidden)), np.repeat(gate_r, hidden), axis=1)
        codes = np.concatenate([R.integers(-3000, 3000, 4 * hidden), np.zeros(4 * hidden, np.int64)])
        bq = b.qconst(codes, np.tile(np.repeat(np.float32(s_x) * gate_w, hidden), 2), bits=32, axis=1)
        bq_node = b.nodes[-1]
        bq_node.input[0] = b.const(codes.reshape(1, -1).astype(np.int32), "w")  # B is [1, 8 * hidden]
        y = b.node("LSTM", [b.dq(x), w, r, bq], name="lstm", n_out=1, hidden_size=hidden, direction=direction)
        y = b.node("Squeeze", [y, b.const(np.array([1], dtype=np.int64))])
        b.output(b.q(y, 0.0075, -3))
        b.metadata["fqss.lstm_cell_log2"] = json.dumps({"lstm": -12})
        return b

    return build


CASES: dict[str, list[Case]] = {
    "Conv": [Case("pointwise", c_conv_pointwise),
             Case("strided_encoder", c_conv_strided),
             Case("depthwise_dilated", c_conv_depthwise_dilated, lengths=RESIZE),
             Case("causal_pad", c_conv_causal_pad)],
    "ConvTranspose": [Case("decoder", c_conv_transpose, lengths=RESIZE),
                      Case("pads_bias", c_conv_transpose_pads_bias, lengths=RESIZE)],
    "Relu": [Case("relu", _unary("Relu", 0.02, -128), I16),
             Case("conv_relu_fused", c_conv_relu)],
    "LeakyRelu": [Case("leaky_relu", _unary("LeakyRelu", 0.03, -20, alpha=0.2371), I16)],
    "Sigmoid": [Case("sigmoid", c_sigmoid)],
    "Tanh": [Case("tanh", c_tanh)],
    "LSTM": [Case("lstm_batch1", _lstm(20, 1), delegated=False),  # XNNPACK has no LSTM
             Case("lstm_reverse_batch3", _lstm(16, 3, "reverse"), delegated=False)],
    "Add": [Case("add", _two("Add"), I16),
            Case("add_const", _const_operand("Add"), I16),
            Case("add_const_saturating", c_add_const_saturating)],
    "Sub": [Case("sub", _two("Sub"), I16)],
    "Mul": [Case("mul", _two("Mul"), I16),
            Case("square", c_mul_square, I16),
            Case("square_codes", c_mul_square_codes, tol=0),
            Case("const", _const_operand("Mul"), I16),
            Case("const_per_channel", c_mul_const_per_channel, bits=()),
            Case("mask_broadcast", c_mask_broadcast, lengths=RESIZE)],
    "ReduceMean": [Case("channels_and_time", c_reduce_mean, I16),
                   Case("time_then_channels", c_reduce_mean_time_then_channels, I16, lengths=RESIZE)],
    # int16 RSQRT is TFLite's 513-entry interpolated table: a few int16 LSB off the exact 1/sqrt (0.02 % here)
    "Sqrt": [Case("rsqrt", c_rsqrt, I16, tol={8: 1, 16: 8}, positive=True)],
    "QuantizeLinear": [Case("requantize", c_requantize, I16, float32=False)],
    "Concat": [Case("concat", _concat(False), I16, tol=0),
               Case("requantize_input", _concat(True), I16)],
    "Reshape": [Case("squeeze_unsqueeze_reshape", c_reshape_squeeze_unsqueeze, I16, tol=0),
                Case("to_sources", c_reshape_to_sources, I16, tol=0),
                Case("requantized", _shape_op("Reshape", 4, [1, 2, -1], (0.03, 1)), I16)],
    "Squeeze": [Case("squeeze", _shape_op("Squeeze", 1, [1]), I16, tol=0)],
    "Unsqueeze": [Case("unsqueeze", _shape_op("Unsqueeze", 3, [1]), I16, tol=0)],
    "Flatten": [Case("flatten", _shape_op("Flatten", 3, None, axis=1), I16, tol=0)],
    "MatMul": [Case("scores", c_matmul),
               Case("values", c_matmul_values)],
    "Softmax": [Case("softmax", c_softmax),
                Case("wide_input", c_softmax_wide)],
    "Transpose": [Case("channels_time", _transpose(3, 8, [0, 2, 1]), I16, tol=0),
                  Case("unit_axes", _transpose(3, 1, [0, 2, 1]), I16, tol=0)],
    "Pad": [Case("time", c_pad, I16, tol=0, lengths=RESIZE)],
    "Slice": [Case("drop_head", _slice([4], [2**63 - 1], [2]), I16, tol=0, lengths=RESIZE),
              Case("drop_tail", _slice([0], [-4], [2]), I16, tol=0, lengths=RESIZE),
              Case("rank4_last_axis", c_slice_rank4, I16, tol=0)],
    "Floor": [Case("floor", c_floor, bits=())],
    "Clip": [Case("one_sided", c_clip_one_sided, bits=()),
             Case("input_splitter_float", c_input_splitter_float, bits=())],
    "island:input": [Case("pcm16", c_pcm16_in_out, io="int16"),
                     Case("float32", c_pcm16_in_out, io="float32")],
    "island:output": [Case("vanilla_pcm16", lambda bits: vanilla_model(16)[0], io="int16"),
                      Case("vanilla_pcm16_zp0", lambda bits: vanilla_model(16, out_zero_point=0)[0], io="int16"),
                      Case("vanilla_float32", lambda bits: vanilla_model(16)[0], io="float32")],
    "island:input_splitter": [Case("pcm16_bytes", lambda bits: fqss_identity_model(256), io="int16", tol=0),
                              Case("pcm16_bytes_before_2_13", lambda bits: fqss_identity_model(256), io="int16",
                                   tol=0, min_runtime="2.12"),
                              Case("float32_bytes", lambda bits: fqss_identity_model(256), io="float32", tol=0),
                              Case("pcm16_bytes_padded", lambda bits: fqss_identity_model(256, pad=(2, 3)),
                                   io="int16", tol=0)],
    "island:output_reconstruction": [Case("two_sources_float32", lambda bits: fqss_identity_model(256, sources=2),
                                          io="float32", tol=0)],
}


def int8_params() -> list:
    """``(op_type, case, bits, resizable)`` of every int8 run: each bit width, and the first with a symbolic T."""
    runs = []
    for op, case in all_cases():
        runs += [pytest.param(op, case, b, False, id=f"{op}-{case.name}-int{b}") for b in case.bits]
        if case.lengths and case.bits:
            runs.append(pytest.param(op, case, case.bits[0], True, id=f"{op}-{case.name}-int{case.bits[0]}-T"))
    return runs


def float_params() -> list:
    """``(op_type, case, resizable)`` of every float32 run: float twins and float-only cases."""
    runs = []
    for op, case in all_cases():
        if case.float32:
            runs += [pytest.param(op, case, r, id=f"{op}-{case.name}" + ("-T" if r else ""))
                     for r in ((False, True) if case.lengths else (False,))]
    return runs


def all_cases() -> list[tuple[str, Case]]:
    return [(op, case) for op, cases in CASES.items() for case in cases]
