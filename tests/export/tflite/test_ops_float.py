"""One-node / one-layer tests of every float32 converter (``export/tflite/ops_float/``).

Each case builds a small plain float ONNX graph (no Q/DQ) with onnx.helper, converts it to a float32 .tflite,
and checks LiteRT (REF, builtin, XNNPACK) against onnxruntime on the same input within a tight relative
tolerance, and that XNNPACK takes the whole graph in one partition.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_litert, run_ort
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.registry import FLOAT32
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

R = np.random.default_rng(11)
RTOL = 1e-5  # of the output's largest magnitude


def w(*shape, scale=0.3):
    return (R.standard_normal(shape) * scale).astype(np.float32)


def f32(v):
    return np.asarray(v, dtype=np.float32)


# -- cases: name -> builder(length) -> QDQ (used as a plain graph builder: input "mixture", float nodes) -------
def c_conv_pointwise(t):
    b = QDQ(channels=4, length=t)
    b.float_output(b.node("Conv", ["mixture", b.const(w(6, 4, 1)), b.const(w(6))], kernel_shape=[1]))
    return b


def c_conv_strided_encoder(t):  # the Conv-TasNet encoder: K=16, stride 8, no bias, one input channel
    b = QDQ(channels=1, length=t)
    b.float_output(b.node("Conv", ["mixture", b.const(w(8, 1, 16))], kernel_shape=[16], strides=[8]))
    return b


def c_conv_depthwise_dilated(t):  # the TCN's depthwise conv: SAME-like pads, dilation (DEPTHWISE_CONV_2D v2)
    b = QDQ(channels=6, length=t)
    b.float_output(b.node("Conv", ["mixture", b.const(w(6, 1, 3)), b.const(w(6))], kernel_shape=[3], group=6,
                          dilations=[4], pads=[4, 4]))
    return b


def c_conv_causal_pad(t):  # pads TFLite cannot express: an explicit PAD
    b = QDQ(channels=3, length=t)
    b.float_output(b.node("Conv", ["mixture", b.const(w(5, 3, 3))], kernel_shape=[3], pads=[2, 0]))
    return b


def c_conv_transpose_decoder(t):  # the decoder: K=16, stride 8, one output channel, no bias
    b = QDQ(channels=8, length=t)
    b.float_output(b.node("ConvTranspose", ["mixture", b.const(w(8, 1, 16))], kernel_shape=[16], strides=[8]))
    return b


def c_conv_transpose_pads_bias(t):
    b = QDQ(channels=4, length=t)
    b.float_output(b.node("ConvTranspose", ["mixture", b.const(w(4, 3, 5)), b.const(w(3))], kernel_shape=[5],
                          strides=[2], pads=[1, 2]))
    return b


def c_conv_relu_fused(t):  # encoder -> ReLU: a fused RELU on the CONV_2D
    b = QDQ(channels=1, length=t)
    enc = b.node("Conv", ["mixture", b.const(w(8, 1, 16))], kernel_shape=[16], strides=[8])
    b.float_output(b.node("Relu", [enc]))
    return b


def _unary(op, **attrs):
    def build(t):
        b = QDQ(channels=3, length=t)
        b.float_output(b.node(op, ["mixture"], **attrs))
        return b
    return build


def _two(op):
    def build(t):
        b = QDQ(channels=3, length=t)
        r = b.node("Relu", ["mixture"])
        b.float_output(b.node(op, ["mixture", r]))
        return b
    return build


def c_mul_square(t):
    b = QDQ(channels=3, length=t)
    b.float_output(b.node("Mul", ["mixture", "mixture"]))
    return b


def _const_operand(op, value):
    def build(t):
        b = QDQ(channels=4, length=t)
        b.float_output(b.node(op, ["mixture", b.const(value)]))
        return b
    return build


def c_mask_broadcast(t):  # Conv-TasNet masking: [1, S*N, F] masks x unsqueezed [1, 1, N, F] -> [S, N, F]
    b = QDQ(channels=6, length=t)
    enc = b.node("Conv", ["mixture", b.const(w(3, 6, 1))], kernel_shape=[1])
    masks = b.node("Reshape", ["mixture", b.const(np.array([1, 2, 3, -1], dtype=np.int64))])
    e4 = b.node("Unsqueeze", [enc, b.const(np.array([1], dtype=np.int64))])
    m = b.node("Mul", [e4, masks])
    b.float_output(b.node("Reshape", [m, b.const(np.array([2, 3, -1], dtype=np.int64))]))
    return b


def c_reduce_mean(t):  # gLN: mean over channels and time
    b = QDQ(channels=5, length=t)
    b.float_output(b.node("ReduceMean", ["mixture", b.const(np.array([1, 2], dtype=np.int64))], keepdims=1))
    return b


def c_reduce_mean_time_then_channels(t):  # gLN written as ReduceMean over T, then over C
    b = QDQ(channels=5, length=t)
    m = b.node("ReduceMean", ["mixture", b.const(np.array([2], dtype=np.int64))], keepdims=1)
    b.float_output(b.node("ReduceMean", [m, b.const(np.array([1], dtype=np.int64))], keepdims=1))
    return b


def c_rsqrt(t):
    b = QDQ(channels=2, length=t)
    pos = b.node("Add", [b.node("Mul", ["mixture", "mixture"]), b.const(f32(1e-3))])
    b.float_output(b.node("Reciprocal", [b.node("Sqrt", [pos])]))
    return b


def c_concat(t):
    b = QDQ(channels=3, length=t)
    b.float_output(b.node("Concat", ["mixture", b.node("Relu", ["mixture"])], axis=1))
    return b


def c_reshape_squeeze(t):
    b = QDQ(channels=1, length=t)
    sq = b.node("Squeeze", ["mixture", b.const(np.array([1], dtype=np.int64))])
    u = b.node("Unsqueeze", [sq, b.const(np.array([0], dtype=np.int64))])
    b.float_output(b.node("Reshape", [u, b.const(np.array([1, 4, -1], dtype=np.int64))]))
    return b


def c_flatten(t):
    b = QDQ(channels=3, length=t)
    b.float_output(b.node("Flatten", [b.node("Relu", ["mixture"])], axis=1))
    return b


def c_input_splitter(t):  # the float form of the FQSS input splitter: PCM bytes with Floor and Clip
    b = QDQ(channels=1, length=t)
    c = lambda v: b.const(f32(v))  # noqa: E731
    hi_x = b.node("Mul", ["mixture", c(128.0)])
    hi = b.node("Clip", [b.node("Floor", [hi_x]), c(-128.0), c(127.0)])
    lo = b.node("Floor", [b.node("Mul", [b.node("Sub", [hi_x, hi]), c(256.0)])])
    lo = b.node("Clip", [b.node("Sub", [lo, c(128.0)]), c(-128.0), c(127.0)])
    b.float_output(b.node("Mul", [b.node("Concat", [hi, lo], axis=1), c(1 / 128)]))
    return b


def c_clip_one_sided(t):
    b = QDQ(channels=2, length=t)
    b.float_output(b.node("Clip", ["mixture", "", b.const(f32(0.25))]))
    return b


CASES = {
    # name: (builder, covers ONNX op types)
    "conv_pointwise": (c_conv_pointwise, ["Conv"]),
    "conv_strided_encoder": (c_conv_strided_encoder, ["Conv"]),
    "conv_depthwise_dilated": (c_conv_depthwise_dilated, ["Conv"]),
    "conv_causal_pad": (c_conv_causal_pad, ["Conv"]),
    "conv_transpose_decoder": (c_conv_transpose_decoder, ["ConvTranspose"]),
    "conv_transpose_pads_bias": (c_conv_transpose_pads_bias, ["ConvTranspose"]),
    "conv_relu_fused": (c_conv_relu_fused, ["Conv", "Relu"]),
    "relu": (_unary("Relu"), ["Relu"]),
    "leaky_relu": (_unary("LeakyRelu", alpha=0.2371), ["LeakyRelu"]),
    "sigmoid": (_unary("Sigmoid"), ["Sigmoid"]),
    "floor": (_unary("Floor"), ["Floor"]),
    "add": (_two("Add"), ["Add"]),
    "sub": (_two("Sub"), ["Sub"]),
    "mul": (_two("Mul"), ["Mul"]),
    "mul_square": (c_mul_square, ["Mul"]),
    "mul_const_per_channel": (_const_operand("Mul", w(1, 4, 1)), ["Mul"]),  # gLN gamma
    "add_const_scalar": (_const_operand("Add", f32(1e-5)), ["Add"]),  # gLN eps
    "mask_broadcast": (c_mask_broadcast, ["Mul", "Reshape", "Unsqueeze"]),
    "reduce_mean": (c_reduce_mean, ["ReduceMean"]),
    "reduce_mean_time_then_channels": (c_reduce_mean_time_then_channels, ["ReduceMean"]),
    "rsqrt": (c_rsqrt, ["Sqrt"]),
    "concat": (c_concat, ["Concat"]),
    "reshape_squeeze": (c_reshape_squeeze, ["Reshape", "Squeeze", "Unsqueeze"]),
    "flatten": (c_flatten, ["Flatten"]),
    "input_splitter": (c_input_splitter, ["Floor", "Clip", "Concat", "Mul", "Sub"]),
    "clip_one_sided": (c_clip_one_sided, ["Clip"]),
}
RESIZABLE = ["conv_transpose_decoder", "conv_transpose_pads_bias", "conv_depthwise_dilated", "mask_broadcast",
             "reduce_mean_time_then_channels"]


def _app_input(buf: bytes, x: np.ndarray) -> np.ndarray:
    return x.reshape(1, -1) if x.shape[:2] == (1, 1) else x


def _compare(name: str, buf: bytes, model, x: np.ndarray, kernels=("ref", "builtin", "xnnpack")) -> None:
    want = run_ort(model, {"mixture": x}).astype(np.float64).reshape(-1)
    scale = max(float(np.abs(want).max()), 1e-6)
    for kernel in kernels:
        got = run_litert(buf, _app_input(buf, x), kernel).astype(np.float64)
        assert got.size == want.size, f"{name} {kernel}: {got.shape} vs {want.size} values"
        err = float(np.abs(got.reshape(-1) - want).max()) / scale
        assert err <= RTOL, f"{name} {kernel}: output differs from onnxruntime by {err:.2e} (relative, T={x.shape[2]})"


def _input(b: QDQ, t: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, (1, b.in_shape[1], t)).astype(np.float32)


@pytest.mark.parametrize("name", list(CASES))
def test_float_operator_matches_onnxruntime(name, tmp_path):
    b = CASES[name][0](48)
    model = b.model()
    buf, meta = convert_model(model)
    assert meta["precision"] == "float32" and meta["io"] == "float32" and not meta["integer_only"]
    _compare(name, buf, model, _input(b, 48, 0))
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    assert d["partitions"] == 1 and d["delegated"] == d["operators"], f"{name}: XNNPACK {d}"


@pytest.mark.parametrize("name", RESIZABLE)
def test_float_resizable_length(name):
    """Symbolic T: one .tflite resized for each length (a ConvTranspose becomes PAD + CONV_2D + RESHAPE)."""
    b = CASES[name][0]("T")
    b.metadata["fqss.stride"] = "2"
    model = b.model()
    buf, _ = convert_model(model)
    for t in (6, 18, 40):
        _compare(name, buf, model, _input(b, t, t), kernels=("ref", "xnnpack"))


def test_every_float_converter_has_a_case():
    covered = {op for _, ops in CASES.values() for op in ops}
    missing = set(FLOAT32.supported()) - covered
    assert not missing, f"float32 converters without a one-node test: {sorted(missing)}"


def test_float_registry_is_separate_and_strict():
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.registry import INT8

    with pytest.raises(ValueError, match=r"\(float32\) for Relu is already registered"):
        FLOAT32.register("Relu", tflite="RELU")(lambda ctx, node: None)
    with pytest.raises(FqssError, match="node 'n1' \\(op type Tanh\\) has no float32 converter"):
        FLOAT32.lookup("Tanh", "n1")
    assert "Floor" in FLOAT32.supported() and "Floor" not in INT8.supported()  # no cross-registry fallback
    assert "QuantizeLinear" in INT8.supported() and "QuantizeLinear" not in FLOAT32.supported()


def test_qdq_graph_is_not_taken_by_the_float_converter():
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.float_converter import convert_float_graph

    b = QDQ(channels=2, length=16)
    b.output(b.op("Relu", [b.dq(b.input(0.05, 0))], (0.05, -128)))
    with pytest.raises(FqssError, match="QDQ graph goes to the integer converter"):
        convert_float_graph(b.model())
    with pytest.raises(FqssError, match="precision float32 was asked but the ONNX model is a QDQ graph"):
        convert_model(b.model(), precision="float32")
