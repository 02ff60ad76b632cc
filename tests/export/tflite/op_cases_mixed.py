"""One-node cases: the int8 / int16 mixes of a mixed-precision plan (``quant.plan``). 16x8 convolutions (int16
activations, int8 weights, int64 bias), an int8 input widened to int16 (QUANTIZE to s/128, exact), an int8
output computed in int16 at s/128 then QUANTIZE, and element-wise operators between int8 and int16 tensors."""

from __future__ import annotations

import json

import numpy as np

from op_case_kit import RESIZE, Case, bias, wq
from qdq_builder import QDQ

I8 = (0.04, 5, 8)  # an int8 activation with a zero point
I16 = (0.0004, 0, 16)


def _conv(b: QDQ, x: str, x_q: tuple, out: tuple, c_in: int, c_out: int, k: int = 1, **attrs) -> str:
    w, s = wq((c_out, c_in // attrs.get("group", 1), k), c_out)
    return b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, x_q[0], s)], out, kernel_shape=[k], **attrs)


def conv_case(x_q: tuple, out: tuple, depthwise: bool = False):
    def build(bits):
        b = QDQ(channels=6, length=24)
        x = b.input(*x_q)
        geo = dict(k=3, group=6, dilations=[2], pads=[2, 2]) if depthwise else {}
        b.output(_conv(b, x, x_q, out, 6, 6 if depthwise else 5, **geo))
        return b
    return build


def int4_conv_case(x_q: tuple, out: tuple, group: int = 1):
    def build(bits):  # int4 codes declared in fqss.int4_weights: INT4 in an int8 CONV_2D, int8 codes otherwise
        b = QDQ(channels=6, length=20)
        x = b.input(*x_q)
        w, s = wq((4, 6 // group, 3), 4)
        wi = b.qconst(w // 32, s * 32, axis=0)  # codes in [-4, 3]: the int4 grid (TensorType INT4: [-8, 7])
        b.metadata["fqss.int4_weights"] = json.dumps([b.nodes[-1].input[0]])
        b.output(b.op("Conv", [b.dq(x), wi, bias(b, x_q[0], s * 32)], out, kernel_shape=[3], group=group,
                      pads=[1, 1]))
        return b
    return build


def transpose_case(x_q: tuple, out: tuple):
    def build(bits):  # the decoder reading an int16 mask product: K=16, stride 8
        b = QDQ(channels=6, length=12)
        x = b.input(*x_q)
        w, s = wq((6, 2, 16), 2)
        b.output(b.op("ConvTranspose", [b.dq(x), b.qconst(w, s, axis=1), bias(b, x_q[0], s)], out,
                      kernel_shape=[16], strides=[8]))
        return b
    return build


def c_mul_int16_by_int8_constant(bits):  # gLN's gamma (an int8 constant) on an int16 tensor
    b = QDQ(channels=4, length=10)
    x = b.input(*I16)
    gamma = b.qconst(np.arange(-2, 2).reshape(1, 4, 1) * 30 + 7, np.float32(0.01))
    b.output(b.op("Mul", [b.dq(x), gamma], (0.00002, 0, 16)))
    return b


def c_mean_int16_to_int8(bits):  # a gLN's mean reading an int16 PReLU output: time, then channels
    b = QDQ(channels=6, length=40)
    x = b.input(*I16)
    m = b.node("ReduceMean", [b.dq(x), b.const(np.array([2], dtype=np.int64))], keepdims=1)
    b.output(b.op("ReduceMean", [m, b.const(np.array([1], dtype=np.int64))], (0.01, 3, 8), keepdims=1))
    return b


def c_conv_relu_int16_to_int8(bits):  # a 16x8 conv whose Relu output is int8: fused RELU, then QUANTIZE
    b = QDQ(channels=4, length=20)
    x = b.input(*I8)
    y = _conv(b, x, I8, (0.0006, 0, 16), 4, 6)
    b.output(b.op("Relu", [b.dq(y)], (0.05, -128)))
    return b


def unary_case(op: str, x_q: tuple, out: tuple, axes: list[int] | None = None, **attrs):
    def build(bits):
        b = QDQ(channels=5, length=16)
        x = b.input(*x_q)
        extra = [b.const(np.array(axes, dtype=np.int64))] if axes is not None else []
        b.output(b.op(op, [b.dq(x), *extra], out, **attrs))
        return b
    return build


def binary_case(op: str, out: tuple):
    def build(bits):  # an int8 activation and an int16 one (a conv's output), into ``out``
        b = QDQ(channels=4, length=16)
        x = b.input(*I8)
        h = _conv(b, x, I8, (0.0005, 0, 16), 4, 4)
        b.output(b.op(op, [b.dq(x), b.dq(h)], out))
        return b
    return build


CASES: dict[str, list[Case]] = {
    "Conv": [Case("pointwise_16x8", conv_case(I16, (0.0005, 0, 16))),
             Case("pointwise_int8_to_int16", conv_case(I8, (0.0005, 0, 16))),
             Case("pointwise_int16_to_int8", conv_case(I16, (0.05, -3, 8))),
             Case("depthwise_16x8", conv_case(I16, (0.0003, 0, 16), depthwise=True)),
             Case("depthwise_int16_to_int8", conv_case(I16, (0.03, 2, 8), depthwise=True)),
             Case("int4_weights", int4_conv_case(I8, (0.05, -3, 8))),
             Case("int4_weights_grouped", int4_conv_case(I8, (0.05, 1, 8), group=2)),
             Case("int4_weights_16x8", int4_conv_case(I16, (0.0004, 0, 16)))],
    "ConvTranspose": [Case("decoder_16x8", transpose_case(I16, (0.0002, 0, 16)), lengths=RESIZE),
                      Case("decoder_int16_to_int8", transpose_case(I16, (1 / 128, 0, 8)), lengths=RESIZE),
                      Case("decoder_int8_to_int16", transpose_case(I8, (0.0002, 0, 16)), lengths=RESIZE)],
    "ReduceMean": [Case("time_channels_int16_to_int8", c_mean_int16_to_int8),
                   Case("int8_to_int16", unary_case("ReduceMean", I8, (0.0004, 0, 16), axes=[2], keepdims=1))],
    "Relu": [Case("conv16x8_relu_int8", c_conv_relu_int16_to_int8),
             Case("int8_to_int16", unary_case("Relu", I8, (0.0003, 0, 16))),
             Case("int16_to_int8", unary_case("Relu", I16, (0.04, -128, 8)))],
    "LeakyRelu": [Case("int8_to_int16", unary_case("LeakyRelu", I8, (0.0004, 0, 16), alpha=0.2)),
                  Case("int16_to_int8", unary_case("LeakyRelu", I16, (0.03, 4, 8), alpha=0.2))],
    "Add": [Case("int8_int16_to_int8", binary_case("Add", (0.06, -2, 8))),
            Case("int8_int16_to_int16", binary_case("Add", (0.0006, 0, 16)))],
    "Sub": [Case("int8_int16_to_int8", binary_case("Sub", (0.05, 1, 8)))],
    "Mul": [Case("int8_int16_to_int16", binary_case("Mul", (0.0002, 0, 16))),
            Case("int16_by_int8_constant", c_mul_int16_by_int8_constant)],
}
