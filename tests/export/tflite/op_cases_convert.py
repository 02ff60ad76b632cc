"""One-node cases: what other quantizers emit (``fqss-edge convert``): PRelu with a float slope (onnxruntime
``quantize_static`` leaves it float) or a DQ'd int8 one, and uint8 activations (``QuantType.QUInt8``)."""

from __future__ import annotations

import numpy as np
from op_case_kit import RESIZE, Case, R, bias, f32, wq
from qdq_builder import QDQ


def _prelu(slope, bits="x"):
    """DQ -> PRelu(slope) -> Q; ``slope``: a float array, or "dq" (an int8 per-tensor DQ'd constant)."""
    def build(b8):
        b = QDQ(channels=4, length=16)
        act = "u8" if bits == "u8" else 8
        x = b.input(0.04, 133 if act == "u8" else 5, act)
        s = b.qconst(R.integers(-60, 60, (4, 1)), np.float32(0.005)) if slope == "dq" else b.const(f32(slope))
        b.output(b.op("PRelu", [b.dq(x), s], (0.03, 120 if act == "u8" else -8, act)))
        return b
    return build


def c_conv_uint8(bits):  # uint8 activations around a conv with int8 per-channel weights (quantize_static default)
    b = QDQ(channels=3, length=24)
    x = b.input(0.03, 128, "u8")
    w, s = wq((5, 3, 3), 5)
    y = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.03, s)], (0.05, 121, "u8"), kernel_shape=[3],
             pads=[1, 1])
    b.output(b.op("Relu", [b.dq(y)], (0.04, 0, "u8")))
    return b


def c_softmax_1_255(bits):  # quantize_static's Softmax output: scale 1/255, zero point -128 (TFLite's: 1/256)
    b = QDQ(channels=5, length=12)
    x = b.input(0.08, 3)
    b.output(b.op("Softmax", [b.dq(x)], (np.float32(1 / 255), -128), axis=1))
    return b


def c_conv_clipped_weights(bits):  # Brevitas QCDQ: each weight is Clip(int8 codes, -127, 127) -> DQ
    b = QDQ(channels=3, length=24)
    x = b.input(0.03, -2)
    w, s = wq((4, 3, 3), 4)
    lo, hi = b.const(np.array(-127, np.int8)), b.const(np.array(127, np.int8))
    codes = b.node("Clip", [b.const(np.asarray(w).astype(np.int8)), lo, hi])
    wdq = b.node("DequantizeLinear", [codes, b.const(s), b.const(np.zeros(4, np.int8))], axis=0)
    b.output(b.op("Conv", [b.dq(x), wdq, bias(b, 0.03, s)], (0.05, 7), kernel_shape=[3]))
    return b


def c_conv_float_bias(bits):  # PyTorch PT2E leaves the bias float: quantized to int32 at s_in * s_w
    b = QDQ(channels=3, length=24)
    x = b.input(0.03, -2)
    w, s = wq((4, 3, 3), 4)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), b.const(f32(R.uniform(-0.3, 0.3, 4)))], (0.05, 7),
                  kernel_shape=[3], pads=[1, 1]))
    return b


def c_conv_relu_unquantized_between(bits):  # PT2E's conv + relu pattern: DQ -> Conv -> Relu -> Q
    b = QDQ(channels=3, length=24)
    x = b.input(0.03, -2)
    w, s = wq((4, 3, 3), 4)
    y = b.node("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.03, s)], kernel_shape=[3])
    b.output(b.op("Relu", [y], (0.02, -128)))
    return b


CASES: dict[str, list[Case]] = {
    "PRelu": [Case("single_slope", _prelu([0.2371])),  # -> LEAKY_RELU
              Case("per_channel", _prelu([[0.25], [-0.1], [0.05], [0.6]]), lengths=RESIZE),  # -> PRELU
              Case("per_channel_dq_slope", _prelu("dq")),
              Case("per_channel_uint8", _prelu([[0.25], [-0.1], [0.05], [0.6]], "u8")),
              Case("per_channel_steep", _prelu([[1.5], [-0.1], [0.05], [0.6]]))],  # a slope > 1: PRELU
    "Conv": [Case("uint8_activations", c_conv_uint8),
             Case("clipped_int8_weights", c_conv_clipped_weights, float32=False),  # float: no integer Clip
             Case("float_bias", c_conv_float_bias),
             Case("relu_fused_without_q", c_conv_relu_unquantized_between)],
    "Softmax": [Case("output_scale_1_255", c_softmax_1_255)],
}
