"""One-node cases: the operations of the time-domain U-Nets (Wave-U-Net, the lightweight Wave-U-Net, ResUNet).

* downsampling: a stride-2 convolution with "same" pads (ResUNet, the lite encoder), and decimation ``x[..., ::2]``
  (Wave-U-Net), a STRIDED_SLICE with step 2;
* Wave-U-Net's linear upsampling: a depthwise convolution with two outputs per channel (depth multiplier 2) that
  computes ``x[t]`` and ``(x[t] + x[t + 1]) / 2``, then depth-to-space;
* depth-to-space / space-to-depth by 2 on ``[N, C, T]``: Reshape -> Transpose -> Reshape (RESHAPE / TRANSPOSE);
* skip concatenation under CONCATENATION's equal-scale rule: two inputs, neither at the output's quantization;
* the lite model's temporal attention: ``x * sigmoid(gate)``.
Every case runs at resizable lengths (even, for the factor-2 operations).
"""

from __future__ import annotations

import numpy as np
from op_case_kit import I16, RESIZE, Case, act, out_q, wq
from qdq_builder import QDQ


def _ints(b: QDQ, v):
    return b.const(np.array(v, dtype=np.int64))


def c_conv_stride2_same(bits):  # K=4, stride 2, pads 1 each side: T -> T / 2
    b = QDQ(channels=4, length=16)
    x = b.input(*act(bits))
    w, s = wq((6, 4, 4), 6)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.06, -2), kernel_shape=[4], strides=[2],
                  pads=[1, 1]))
    return b


def c_conv_depth_multiplier_2(bits):  # linear upsampling: C -> 2C, K=3, pads 1
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    w, s = wq((6, 1, 3), 6)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.04, 1), kernel_shape=[3], group=3, pads=[1, 1]))
    return b


def c_decimate(bits):  # Wave-U-Net's decimation: x[..., ::2]
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("Slice", [b.dq(x), _ints(b, [0]), _ints(b, [2**63 - 1]), _ints(b, [2]), _ints(b, [2])],
                  act(bits)))
    return b


def c_decimate_by_reshape(bits):  # the same samples: [1, C, T] -> [1, C, T / 2, 2] -> [..., :1] -> [1, C, T / 2]
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    r = b.op("Reshape", [b.dq(x), _ints(b, [1, 3, -1, 2])], q)
    e = b.op("Slice", [b.dq(r), _ints(b, [0]), _ints(b, [1]), _ints(b, [3])], q)
    b.output(b.op("Reshape", [b.dq(e), _ints(b, [1, 3, -1])], q))
    return b


def _rearrange(channels: int, first: list[int], last: list[int]):
    def build(bits):  # Reshape -> Transpose(0, 1, 3, 2) -> Reshape, one quantization throughout
        b = QDQ(channels=channels, length=16)
        x = b.input(*act(bits))
        q = act(bits)
        r = b.op("Reshape", [b.dq(x), _ints(b, first)], q)
        t = b.op("Transpose", [b.dq(r)], q, perm=[0, 1, 3, 2])
        b.output(b.op("Reshape", [b.dq(t), _ints(b, last)], q))
        return b
    return build


def c_concat_two_requantized(bits):  # a skip and upsampled features, each at its own scale, requantized
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    w, s = wq((3, 3, 1), 3)
    r = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.03, -4), kernel_shape=[1])
    b.output(b.op("Concat", [b.dq(x), b.dq(r)], out_q(bits, 0.05, -1), axis=1))
    return b


def c_temporal_gate(bits):  # x * sigmoid(x): the attention gate of the lite model's last layer
    b = QDQ(channels=4, length=16)
    x = b.input(*act(bits))
    g = b.op("Sigmoid", [b.dq(x)], (1 / 256, -128))
    b.output(b.op("Mul", [b.dq(x), b.dq(g)], (0.03, 0)))
    return b


CASES: dict[str, list[Case]] = {
    "Conv": [Case("stride2_same_pads", c_conv_stride2_same, lengths=RESIZE),
             Case("depth_multiplier_2", c_conv_depth_multiplier_2, lengths=RESIZE)],
    "Slice": [Case("decimate_by_2", c_decimate, I16, tol=0, lengths=RESIZE, delegated=False),
              Case("decimate_by_reshape", c_decimate_by_reshape, I16, tol=0, lengths=RESIZE)],
    "Transpose": [Case("depth_to_space_2", _rearrange(4, [1, 2, 2, -1], [1, 2, -1]), I16, tol=0, lengths=RESIZE),
                  Case("space_to_depth_2", _rearrange(3, [1, 3, -1, 2], [1, 6, -1]), I16, tol=0, lengths=RESIZE)],
    "Concat": [Case("two_requantized_inputs", c_concat_two_requantized, lengths=RESIZE)],
    "Mul": [Case("temporal_gate", c_temporal_gate, lengths=RESIZE)],
}
