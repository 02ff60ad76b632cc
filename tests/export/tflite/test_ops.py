"""One-node / one-layer converter tests for every registered operator.

Each case builds a small QDQ ONNX graph with onnx.helper, converts it (``io="quantized"``: the model's int8 /
int16 tensors are the .tflite I/O), and checks: LiteRT (REF, builtin, XNNPACK) vs onnxruntime within the
case's LSB tolerance (1 unless stated), and the numpy integer reference == LiteRT REF exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import lsb_diff, run_litert, run_ort
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.reference import ReferenceModel

R = np.random.default_rng(7)


def wq(shape, n_out, axis=0):
    """Random int8 weight codes and per-channel scales."""
    return R.integers(-127, 128, shape), R.uniform(0.002, 0.02, n_out).astype(np.float32)


def bias(b: QDQ, s_in: float, s_w: np.ndarray):
    return b.qconst(R.integers(-3000, 3000, s_w.size), (np.float32(s_in) * s_w).astype(np.float32), bits=32, axis=0)


def act(bits):
    return (0.04, 5, 8) if bits == 8 else (0.0004, 0, 16)


def out_q(bits, scale=0.05, zp=-3):
    return (scale, zp, 8) if bits == 8 else (scale / 100, 0, 16)


# -- cases: name -> (builder(bits) -> QDQ, bit widths, tolerance, input code range) -----------------------------
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


def c_conv_depthwise_dilated(bits):
    b = QDQ(channels=6, length=40)
    x = b.input(*act(bits))
    w, s = wq((6, 1, 3), 6)
    b.output(b.op("Conv", [b.dq(x), b.qconst(w, s, axis=0), bias(b, act(bits)[0], s)], (0.03, 2), kernel_shape=[3],
                  group=6, dilations=[4], pads=[4, 4]))
    return b


def c_conv_causal_pad(bits):
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


def c_leaky_relu(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("LeakyRelu", [b.dq(x)], out_q(bits, 0.03, -20), alpha=0.2371))
    return b


def c_relu(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("Relu", [b.dq(x)], out_q(bits, 0.02, -128)))
    return b


def c_sigmoid(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(0.06, 2)
    b.output(b.op("Sigmoid", [b.dq(x)], (1 / 256, -128)))
    return b


def _two(bits, op):
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    r = b.op("Relu", [b.dq(x)], out_q(bits, 0.02, -128))
    b.output(b.op(op, [b.dq(x), b.dq(r)], out_q(bits, 0.06, 4)))
    return b


def c_add(bits):
    return _two(bits, "Add")


def c_sub(bits):
    return _two(bits, "Sub")


def c_mul(bits):
    return _two(bits, "Mul")


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


def _const_operand(bits, op):
    b = QDQ(channels=4, length=16)
    x = b.input(*act(bits))
    c = b.qconst(R.integers(-127, 128, (1, 4, 1)), np.float32(0.011), bits=bits)
    b.output(b.op(op, [b.dq(x), c], out_q(bits, 0.05, 1)))
    return b


def c_mul_const(bits):  # gLN gamma: an int8 per-tensor [1, C, 1] constant
    return _const_operand(bits, "Mul")


def c_add_const(bits):  # gLN beta / eps
    return _const_operand(bits, "Add")


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


def c_reduce_mean(bits):
    b = QDQ(channels=5, length=20)
    x = b.input(*act(bits))
    b.output(b.op("ReduceMean", [b.dq(x), b.const(np.array([1, 2], dtype=np.int64))], out_q(bits, 0.01, 3),
                  keepdims=1))
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


def c_concat(bits):
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    r = b.op("Relu", [b.dq(x)], act(bits)[:2] + (bits,))
    b.output(b.op("Concat", [b.dq(x), b.dq(r)], act(bits)[:2] + (bits,), axis=1))
    return b


def c_reshape_squeeze(bits):
    b = QDQ(channels=1, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    sq = b.op("Squeeze", [b.dq(x), b.const(np.array([1], dtype=np.int64))], q)
    u = b.op("Unsqueeze", [b.dq(sq), b.const(np.array([0], dtype=np.int64))], q)
    b.output(b.op("Reshape", [b.dq(u), b.const(np.array([1, 4, 4], dtype=np.int64))], q))
    return b


CASES = {
    # name: (builder, bit widths, LSB tolerance vs onnxruntime, covers ONNX op types)
    "conv_pointwise": (c_conv_pointwise, (8,), 1, ["Conv"]),
    "conv_strided_encoder": (c_conv_strided, (8,), 1, ["Conv"]),
    "conv_depthwise_dilated": (c_conv_depthwise_dilated, (8,), 1, ["Conv"]),
    "conv_causal_pad": (c_conv_causal_pad, (8,), 1, ["Conv"]),
    "conv_transpose_decoder": (c_conv_transpose, (8,), 1, ["ConvTranspose"]),
    "conv_transpose_pads_bias": (c_conv_transpose_pads_bias, (8,), 1, ["ConvTranspose"]),
    "leaky_relu": (c_leaky_relu, (8, 16), 1, ["LeakyRelu"]),
    "relu": (c_relu, (8, 16), 1, ["Relu"]),
    "conv_relu_fused": (c_conv_relu, (8,), 1, ["Conv", "Relu"]),
    "sigmoid": (c_sigmoid, (8,), 1, ["Sigmoid"]),
    "add": (c_add, (8, 16), 1, ["Add"]),
    "sub": (c_sub, (8, 16), 1, ["Sub"]),
    "mul": (c_mul, (8, 16), 1, ["Mul"]),
    "mul_square": (c_mul_square, (8, 16), 1, ["Mul"]),
    "mul_square_codes": (c_mul_square_codes, (8,), 0, ["Mul"]),
    "add_const_saturating": (c_add_const_saturating, (8,), 1, ["Add"]),
    "mul_const": (c_mul_const, (8, 16), 1, ["Mul"]),
    "add_const": (c_add_const, (8, 16), 1, ["Add"]),
    "mask_broadcast": (c_mask_broadcast, (8,), 1, ["Mul", "Reshape", "Unsqueeze"]),
    "reduce_mean": (c_reduce_mean, (8, 16), 1, ["ReduceMean"]),
    # int16 RSQRT is TFLite's 513-entry interpolated table: a few int16 LSB off the exact 1/sqrt (0.02 % here)
    "rsqrt": (c_rsqrt, (8, 16), {8: 1, 16: 8}, ["Sqrt"]),
    "requantize": (c_requantize, (8, 16), 1, ["QuantizeLinear"]),
    "concat": (c_concat, (8, 16), 0, ["Concat"]),
    "reshape_squeeze": (c_reshape_squeeze, (8, 16), 0, ["Reshape", "Squeeze", "Unsqueeze"]),
}
PARAMS = [pytest.param(name, bits, id=f"{name}-int{bits}") for name, (_, bl, _, _) in CASES.items() for bits in bl]


def input_codes(b: QDQ, xq: str, seed: int) -> np.ndarray:
    scale, zp, bits = b.qparams[xq]
    rng = np.random.default_rng(seed)
    lo, hi = (-128, 127) if bits == 8 else (-32767, 32767)
    return rng.integers(lo, hi + 1, b.in_shape).astype(np.int8 if bits == 8 else np.int16)


def convert_case(name: str, bits: int):
    b = CASES[name][0](bits)
    model = b.model()
    xq = next(k for k in b.qparams if k.startswith("QuantizeLinear"))  # the graph input's Q
    yq = b.outputs[0].name
    buf, _ = convert_model(model, io="quantized")
    return b, model, xq, buf


@pytest.mark.parametrize("name,bits", PARAMS)
def test_operator_matches_onnxruntime_and_reference(name, bits):
    b, model, xq, buf = convert_case(name, bits)
    tol = CASES[name][2]
    tol = tol[bits] if isinstance(tol, dict) else tol
    s_in, z_in, _ = b.qparams[xq]
    codes = input_codes(b, xq, 0)
    if name == "rsqrt":
        codes = np.abs(codes.astype(np.int32)).clip(0 if bits == 16 else -128, None).astype(codes.dtype)
        codes[codes.astype(np.int32) < z_in] = z_in
        if bits == 16:
            codes = np.maximum(codes, 2000).astype(np.int16)  # LUT interpolation is coarse close to 0
    x_float = ((codes.astype(np.float32) - np.float32(z_in)) * np.float32(s_in)).astype(np.float32)
    y_ort = run_ort(model, {"mixture": x_float})
    out_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"][-1]
    s_out, z_out, _ = b.qparams[out_dq.input[0]]
    y_ort_q = np.round(y_ort.astype(np.float64) / np.float64(np.float32(s_out))) + z_out

    codes = codes.reshape(_input_shape(buf))
    ref = run_litert(buf, codes, "ref")
    assert ref.size == y_ort_q.size
    d = lsb_diff(ref, y_ort_q)
    assert d <= tol, f"{name} int{bits}: LiteRT REF vs onnxruntime differ by {d} LSB (output {out_dq.input[0]})"
    for kernel in ("builtin", "xnnpack"):
        d = lsb_diff(run_litert(buf, codes, kernel), y_ort_q)
        assert d <= tol + 1, f"{name} int{bits}: LiteRT {kernel} vs onnxruntime differ by {d} LSB"
    ours = ReferenceModel(buf).run(codes)
    assert np.array_equal(np.asarray(ours).reshape(-1), ref.reshape(-1)), \
        f"{name} int{bits}: integer reference != LiteRT REF ({lsb_diff(ours, ref)} LSB)"


def _input_shape(buf: bytes) -> tuple[int, ...]:
    ref = ReferenceModel(buf)
    return ref.tensors[ref.sg.inputs[0]].shape


def test_every_registered_operator_has_a_case():
    from fqss_edge.export.tflite.registry import supported

    covered = {op for _, _, _, ops in CASES.values() for op in ops} | {"Flatten"}  # Flatten shares the reshape path
    missing = set(supported()) - covered
    assert not missing, f"registered converters without a one-node test: {sorted(missing)}"


@pytest.mark.parametrize("case", ["conv_transpose_decoder", "conv_transpose_pads_bias", "conv_depthwise_dilated",
                                  "mask_broadcast"])
def test_resizable_length(case):
    """Symbolic T: the .tflite is resized for each length (ConvTranspose becomes PAD + CONV_2D + RESHAPE)."""
    b = CASES[case][0](8)
    b.in_shape[2] = "T"
    model = b.model()
    model.metadata_props.add(key="fqss.stride", value="2")
    buf, _ = convert_model(model, io="quantized")
    xq = next(k for k in b.qparams if k.startswith("QuantizeLinear"))
    s_in, z_in, _ = b.qparams[xq]
    out_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"][-1]
    s_out, z_out, _ = b.qparams[out_dq.input[0]]
    for t in (6, 18, 40):
        codes = np.random.default_rng(t).integers(-128, 128, (1, b.in_shape[1], t)).astype(np.int8)
        x = ((codes.astype(np.float32) - z_in) * np.float32(s_in)).astype(np.float32)
        y_ort = np.round(run_ort(model, {"mixture": x}).astype(np.float64) / np.float32(s_out)) + z_out
        feed = codes.reshape(1, t) if b.in_shape[1] == 1 else codes
        y = run_litert(buf, feed, "ref")
        assert y.size == y_ort.size, f"T={t}: {y.shape} vs {y_ort.shape}"
        assert lsb_diff(y, y_ort) <= 1, f"{case} T={t}"
        assert np.array_equal(ReferenceModel(buf).run(feed).reshape(-1), y.reshape(-1))


def test_int16_mean_over_channels_and_time_does_not_overflow():
    """TFLite's MEAN sums in int32: 512 x 8000 int16 values of 2000 (8.2e9) would wrap; the split MEAN does not."""
    c, t = 512, 8000
    b = QDQ(channels=c, length=t)
    x = b.input(0.0004, 0, 16)
    b.output(b.op("ReduceMean", [b.dq(x), b.const(np.array([1, 2], dtype=np.int64))], (0.0004, 0, 16), keepdims=1))
    buf, _ = convert_model(b.model(), io="quantized")
    codes = np.full((1, c, t), 2000, np.int16)
    for kernel in ("ref", "builtin"):
        assert run_litert(buf, codes, kernel).reshape(-1).tolist() == [2000]
    assert ReferenceModel(buf).run(codes).reshape(-1).tolist() == [2000]
