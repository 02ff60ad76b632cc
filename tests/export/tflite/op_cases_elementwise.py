"""One-node cases: element-wise operators: activations, binary arithmetic, means, 1/sqrt and requantization."""

from __future__ import annotations

import numpy as np
from op_case_kit import I16, RESIZE, Case, R, act, out_q, wq
from qdq_builder import QDQ


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


def _add_relu(zp):
    """``QAdd(..., act="relu")``: Add -> Relu -> Q, an ADD with a fused RELU; zero point -128 (the layer's
    non-negative quantizer) or above it (the fused clamp at the zero point does the work)."""
    def build(bits):
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        n = b.op("Sub", [b.dq(x), b.dq(b.op("Relu", [b.dq(x)], out_q(bits, 0.02, -128)))], out_q(bits, 0.04, 60))
        b.output(b.q(b.node("Relu", [b.node("Add", [b.dq(x), b.dq(n)])]), *out_q(bits, 0.06, zp)))
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


def c_add_scalar_eps(bits):  # gLN variance + eps with a coarse variance: XNNPACK refuses it, a float island
    b = QDQ(channels=1, length=1)
    x = b.input(0.0235, -128)
    eps = b.qconst(np.array(1), np.float32(1e-5), bits=8)
    b.output(b.op("Add", [b.dq(x), eps], (0.0212, -128, 8)))
    return b


def c_add_eps_nudged_island(bits):  # variance + eps whose code -28 sits on a rounding tie: a nudged float island
    b = QDQ(channels=1, length=16)
    x = b.input(0.0248, -128)
    eps = b.qconst(np.array(1), np.float32(1e-6), bits=8)
    v = np.float64(np.float32(np.float64(np.float32(0.0248)) * 100))
    b.output(b.op("Add", [b.dq(x), eps], (float(np.float32((v + np.float64(np.float32(1e-6))) / 103.5)), -128, 8)))
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


def c_rsqrt_nudged_island(bits):  # codes at rounding ties (1/sqrt(0.05 n) / s_out = 10.5, 3.5, 1.5): a nudged island
    b = QDQ(channels=2, length=16)
    x = b.input(0.05, -128)
    s = b.node("Sqrt", [b.dq(x)])
    b.output(b.op("Reciprocal", [s], (float(np.float32(1 / np.sqrt(np.float64(np.float32(0.05))) / 10.5)), -128, 8)))
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



CASES: dict[str, list[Case]] = {
    "Relu": [Case("relu", _unary("Relu", 0.02, -128), I16)],
    "LeakyRelu": [Case("leaky_relu", _unary("LeakyRelu", 0.03, -20, alpha=0.2371), I16)],
    "Sigmoid": [Case("sigmoid", c_sigmoid)],
    "Tanh": [Case("tanh", c_tanh)],
    "Add": [Case("add", _two("Add"), I16),
            Case("add_const", _const_operand("Add"), I16),
            Case("add_relu_fused", _add_relu(-128), I16),
            Case("add_relu_clamp_at_zero_point", _add_relu(-30)),
            Case("add_const_saturating", c_add_const_saturating),
            Case("add_scalar_eps_island", c_add_scalar_eps),
            Case("add_eps_nudged_island", c_add_eps_nudged_island)],
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
    "Sqrt": [Case("rsqrt", c_rsqrt, I16, tol={8: 1, 16: 8}, positive=True),
             Case("rsqrt_nudged_island", c_rsqrt_nudged_island, positive=True)],
    "QuantizeLinear": [Case("requantize", c_requantize, I16, float32=False)],
}
