"""The int8 converter of every operator, on its one-node cases (``op_cases.CASES``).

Each case's QDQ graph is converted (``io="quantized"`` unless the case says otherwise: the model's int8 / int16
tensors are the .tflite I/O), then: the numpy integer reference == LiteRT REF exactly on every tensor, LiteRT
REF vs onnxruntime within the case's LSB tolerance (1 unless stated), LiteRT builtin and XNNPACK within one more.
A case with ``lengths`` is also exported with a symbolic length and run at each of them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import onnx
import pytest
from ai_edge_litert.interpreter import Interpreter
from conftest import assert_reference_matches_litert, lsb_diff, run_litert, run_ort
from op_cases import Case, int8_params
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.ops.reduce_mean import XNNPACK_ROW_EXACT
from fqss_edge.export.tflite.reference import ReferenceModel, Tensor

class Q(NamedTuple):
    scale: np.float32
    zp: int
    dtype: type


PCM16 = Q(np.float32(1 / 32768), 0, np.int16)  # the quantization of int16 PCM, and of float32 I/O


def input_codes(case: Case, tin: Tensor, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random codes of the .tflite input's type (int16 PCM for float32 I/O), ``shape`` in ONNX order."""
    wide = tin.dtype != np.int8
    lo, hi = (-32767, 32767) if wide else (-128, 127)
    codes = np.random.default_rng(seed).integers(lo, hi + 1, shape).astype(np.int16 if wide else np.int8)
    if case.positive:
        z = tin.z if tin.scale is not None else 0
        codes = np.abs(codes.astype(np.int32)).clip(0 if wide else -128, None).astype(codes.dtype)
        codes[codes.astype(np.int32) < z] = z
        if wide:
            codes = np.maximum(codes, 2000).astype(np.int16)  # LUT interpolation is coarse close to 0
    return codes


def quant_of(t: Tensor) -> Q:
    return Q(np.float32(t.s), t.z, t.dtype.type) if t.scale is not None else PCM16


def output_quant(model: onnx.ModelProto) -> Q:
    """The quantization of the ONNX model's output, in which the runtimes are compared: the last
    DequantizeLinear's, or 16-bit PCM behind the output_reconstruction island."""
    if any(n.name.startswith("output_reconstruction/") for n in model.graph.node):
        return PCM16
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"][-1]
    zp = inits[dq.input[2]]
    return Q(np.float32(inits[dq.input[1]]), int(zp), zp.dtype.type)


def to_codes(y: np.ndarray, q: Q, t: Tensor | None = None) -> np.ndarray:
    """Output values (float, or integers of tensor ``t``'s quantization) as codes of ``q``, saturated."""
    if t is not None and t.scale is not None:
        if quant_of(t) == q:
            return y.astype(np.int64)
        y = np.float64(t.s) * (y.astype(np.float64) - t.z)
    info = np.iinfo(q.dtype)
    return np.clip(np.round(y.astype(np.float64) / np.float64(q.scale)) + q.zp, info.min, info.max).astype(np.int64)


def check_case(case: Case, model: onnx.ModelProto, buf: bytes, bits: int, length: int | None, seed: int) -> None:
    ref = ReferenceModel(buf)
    tin = ref.tensors[ref.sg.inputs[0]]
    shape = [int(d.dim_value) if d.HasField("dim_value") else length
             for d in model.graph.input[0].type.tensor_type.shape.dim]
    codes = input_codes(case, tin, tuple(shape), seed)
    s_in, z_in, _ = quant_of(tin)
    x_float = ((codes.astype(np.float32) - np.float32(z_in)) * s_in).astype(np.float32)
    feed = (x_float if tin.dtype == np.float32 else codes).reshape(tin.shape[:-1] + (shape[-1],))
    q_out, t_out = output_quant(model), ref.tensors[ref.sg.outputs[0]]
    y_ort = to_codes(run_ort(model, {"mixture": x_float}), q_out)
    what = f"{case.name} int{bits}" + (f" T={length}" if length else "")

    compared = assert_reference_matches_litert(buf, feed)
    assert compared >= 2, f"{what}: only {compared} tensors compared"
    tol = case.lsb_tolerance(bits)
    y = run_litert(buf, feed, "ref")
    assert y.size == y_ort.size, f"{what}: {y.shape} vs onnxruntime {y_ort.shape}"
    d = lsb_diff(to_codes(y, q_out, t_out), y_ort)
    assert d <= tol, f"{what}: LiteRT REF vs onnxruntime differ by {d} LSB (output {t_out.name})"
    for kernel in ("builtin", "xnnpack") if length is None else ():  # resized: REF only
        d = lsb_diff(to_codes(run_litert(buf, feed, kernel), q_out, t_out), y_ort)
        assert d <= tol + 1, f"{what}: LiteRT {kernel} vs onnxruntime differ by {d} LSB"


@pytest.mark.parametrize("op,case,bits,resizable", int8_params())
def test_operator_matches_onnxruntime_and_reference(op, case, bits, resizable):
    model = case.model(bits, resizable)
    buf, meta = convert_model(model, io=case.io, min_runtime=case.min_runtime)
    assert meta["precision"] == "int8" and meta["io"] == case.io
    for length in case.lengths if resizable else (None,):
        check_case(case, model, buf, bits, length, seed=length or 0)


MEAN_CASES = [(64, 400, 400), (64, 3696, 3696), (8, 20000, 20000), (512, "T", 4001), (64, "T", 4001)]


def int8_mean_model(channels: int, length: int | str, zp: int) -> bytes:
    b = QDQ(channels=channels, length=length)
    x = b.input(0.0035, zp, 8)
    out_q = (0.00175, zp, 8) if zp < 0 else (0.0035, zp - 10, 8)
    b.output(b.op("ReduceMean", [b.dq(x), b.const(np.array([1, 2], dtype=np.int64))], out_q, keepdims=1))
    return convert_model(b.model(), io="quantized")[0]


@pytest.mark.parametrize("channels,length,frames", MEAN_CASES)
def test_int8_mean_over_time_and_channels_equals_reference_in_xnnpack(channels, length, frames):
    """XNNPACK's int8 mean over the innermost axis is wrong past 8192 values of one sign (post-ReLU codes at zero
    point -128, codes above zero point 100; the gLN mean: the shipped model's XNNPACK output was at 5 dB SQNR);
    the exporter reduces rows of at most XNNPACK_ROW_EXACT values."""
    u = np.random.default_rng(0).random((1, channels, frames))
    for zp, codes in ((-128, np.full(u.shape, -100)), (-128, -128 + (u**8 * 70).astype(int)),
                      (100, np.full(u.shape, 127))):
        buf, codes = int8_mean_model(channels, length, zp), codes.astype(np.int8)
        want = ReferenceModel(buf).run(codes).reshape(-1).tolist()
        assert -128 < want[0] < 127  # not saturated
        for kernel in ("ref", "builtin", "xnnpack"):
            assert run_litert(buf, codes, kernel).reshape(-1).tolist() == want, f"{kernel} zero point {zp}"


@pytest.mark.parametrize("channels,length,frames", MEAN_CASES)
def test_int8_mean_over_time_and_channels_is_one_mean_over_rows(channels, length, frames):
    """The form XNNPACK runs fast and exactly: one MEAN over [R, 1, K] (K <= XNNPACK_ROW_EXACT values a row, a
    unit axis between the reduced axes), not over [N, 1] (one value per load)."""
    it = Interpreter(model_content=int8_mean_model(channels, length, -128))
    details = it.get_tensor_details()
    n_in = int(np.prod(it.get_input_details()[0]["shape"]))  # the file's shapes (a length-dependent one: any T)
    means = [op for op in it._get_ops_details() if op["op_name"] == "MEAN"]
    assert len(means) == 1
    shape = tuple(int(d) for d in details[means[0]["inputs"][0]]["shape"])
    axes = tuple(int(a) for a in it.get_tensor(means[0]["inputs"][1]))
    assert len(shape) == 4 and axes == (1, 3) and shape[2] == 1, (shape, axes)
    assert 1 < shape[3] <= XNNPACK_ROW_EXACT and shape[1] * shape[3] == n_in


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
