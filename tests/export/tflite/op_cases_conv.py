"""One-node cases: convolutions: pointwise, strided, depthwise dilated, causal pads, transposed, and a fused RELU."""

from __future__ import annotations

from op_case_kit import RESIZE, Case, act, bias, out_q, wq

FRAMES = (16, 48, 80)  # lengths a stride-8 encoder accepts
from qdq_builder import QDQ


def c_conv_pointwise(bits):
    b = QDQ(channels=4, length=24)
    x = b.input(*act(bits))
    w, s = wq((6, 4, 1), 6)
    y = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], out_q(bits, 0.1), kernel_shape=[1])
    b.output(y)
    return b


def c_conv_strided(bits):  # the Conv-TasNet encoder: K=16, stride 8, no bias, 2 input channels (PCM bytes)
    b = QDQ(channels=2, length=64)
    b.metadata["fqss.stride"] = "8"  # the length rule, when exported with a symbolic length
    x = b.input(1 / 128, 0)
    w, s = wq((8, 2, 16), 8)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], (0.2, -128), kernel_shape=[16], strides=[8]))
    return b


def c_conv_strided_padded(bits):  # DPRNN's encoder without the splitter: pads (K - S) / 2 on each side
    b = QDQ(channels=1, length=64)
    b.metadata["fqss.stride"] = "8"
    x = b.input(*act(bits))
    w, s = wq((8, 1, 16), 8)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0)], out_q(bits, 0.2), kernel_shape=[16], strides=[8],
                  pads=[4, 4]))
    return b


def c_conv_strided_ragged(bits):  # K not a multiple of S (zero taps complete the last frame), stereo bytes, a bias
    b = QDQ(channels=4, length=24)
    x = b.input(*act(bits))
    w, s = wq((6, 4, 5), 6)
    y = b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], out_q(bits, 0.1), kernel_shape=[5],
             strides=[2])
    b.output(y)
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


def _conv_relu_one_requantization(zp, depthwise):
    """``QConv1d(..., act="relu")``: Conv -> Relu -> Q, no Q between them: a fused RELU and no QUANTIZE. Output zero
    point -128 (the layer's non-negative quantizer) or above it (the fused clamp at the zero point does the work)."""
    def build(bits):
        b = QDQ(channels=6, length=40)
        x = b.input(*act(bits))
        c_out, attrs = (6, dict(group=6, dilations=[2], pads=[2, 2])) if depthwise else (5, dict(pads=[1, 1]))
        w, s = wq((c_out, 1 if depthwise else 6, 3), c_out)
        y = b.node("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], kernel_shape=[3], **attrs)
        b.output(b.q(b.node("Relu", [y]), *out_q(bits, 0.03, zp)))
        return b
    return build


CASES: dict[str, list[Case]] = {
    "Conv": [Case("pointwise", c_conv_pointwise),
             Case("strided_encoder", c_conv_strided, lengths=FRAMES),
             Case("strided_padded", c_conv_strided_padded, bits=(8, 16), lengths=FRAMES),
             Case("strided_ragged", c_conv_strided_ragged, bits=(8, 16), lengths=(6, 18, 40)),
             Case("depthwise_dilated", c_conv_depthwise_dilated, lengths=RESIZE),
             Case("causal_pad", c_conv_causal_pad)],
    "ConvTranspose": [Case("decoder", c_conv_transpose, lengths=RESIZE),
                      Case("pads_bias", c_conv_transpose_pads_bias, lengths=RESIZE)],
    "Relu": [Case("conv_relu_fused", c_conv_relu),
             Case("conv_relu_one_requantization", _conv_relu_one_requantization(-128, False), bits=(8, 16)),
             Case("depthwise_relu_one_requantization", _conv_relu_one_requantization(-128, True), bits=(8, 16)),
             Case("conv_relu_clamp_at_zero_point", _conv_relu_one_requantization(-40, False))],
}
