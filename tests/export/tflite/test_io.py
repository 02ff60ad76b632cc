"""The I/O contract: int16 PCM in [1, T], int16 PCM out [n_src, T] (or float32 / 32768), the exact byte
split / reconstruction of the FQSS islands, plain (vanilla) I/O, and the embedded metadata."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from conftest import run_litert, run_ort
from qdq_builder import fqss_identity_model, vanilla_model

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import convert_model, export, read_tflite_metadata
from fqss_edge.export.tflite.reference import ReferenceModel

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)


@pytest.fixture(scope="module")
def identity_model() -> onnx.ModelProto:
    return fqss_identity_model()


# the byte split: RIGHT_SHIFT / BITWISE_XOR (default), int16 ADD / SUB for a runtime before 2.13
SPLITS = {None: {"RIGHT_SHIFT", "BITWISE_XOR"}, "2.12": {"ADD", "SUB"}}


@pytest.mark.parametrize("min_runtime", list(SPLITS))
@pytest.mark.parametrize("kernel", ["ref", "builtin", "xnnpack"])
def test_pcm16_split_and_reconstruct_are_exact_on_all_65536_values(identity_model, kernel, min_runtime):
    buf, meta = convert_model(identity_model, io="int16", min_runtime=min_runtime)
    assert meta["input_splitter"] and meta["residual_output"]
    assert SPLITS[min_runtime] <= set(ReferenceModel(buf).op_names())
    out = run_litert(buf, ALL_PCM.reshape(1, -1), kernel)
    want = np.clip(ALL_PCM.astype(np.int32) - 128, -32768, 32767)  # 256 * (p >> 8) + (p & 0xFF) - 128
    assert out.dtype == np.int16 and out.shape == (1, 65536)
    assert np.array_equal(out[0].astype(np.int32), want)
    assert np.array_equal(ReferenceModel(buf).run(ALL_PCM.reshape(1, -1)), out)


def test_onnx_island_agrees_with_the_tflite_bytes(identity_model):
    x = (ALL_PCM.astype(np.float32) / 32768).reshape(1, 1, -1)
    y = run_ort(identity_model, {"mixture": x})
    assert np.array_equal(np.round(y.reshape(-1) * 32768).astype(np.int32), ALL_PCM.astype(np.int32) - 128)


def test_float32_io_gives_the_same_pcm(identity_model):
    buf, meta = convert_model(identity_model, io="float32")
    assert meta["input"]["dtype"] == "float32"
    x = (ALL_PCM.astype(np.float32) / 32768).reshape(1, -1)
    out = run_litert(buf, x, "ref")
    assert out.dtype == np.float32
    assert np.array_equal(np.round(out[0] * 32768).astype(np.int32),
                          np.clip(ALL_PCM.astype(np.int32) - 128, -32768, 32767))


def test_a_wrong_splitter_island_is_refused():
    m = fqss_identity_model(256)
    for n in m.graph.node:  # swap hi and lo in the Concat: no longer the PCM bytes
        if n.name == "input_splitter/Concat":
            n.input[0], n.input[1] = n.input[1], n.input[0]
    with pytest.raises(FqssError, match="input_splitter island does not compute the PCM16 bytes"):
        convert_model(m)


@pytest.mark.parametrize("zp", [-1, 0])
@pytest.mark.parametrize("io", ["int16", "float32"])
def test_vanilla_io_is_plain_requantization(io, zp):
    model, s_out = vanilla_model(out_zero_point=zp)
    buf, meta = convert_model(model, io=io)
    assert not meta["input_splitter"] and not meta["residual_output"]
    rng = np.random.default_rng(0)
    pcm = rng.integers(-20000, 20000, (1, 64)).astype(np.int16)
    x = pcm.astype(np.float32) / 32768
    y_ort = run_ort(model, {"mixture": x.reshape(1, 1, -1)})[0]
    y = run_litert(buf, pcm if io == "int16" else x, "ref")
    assert y.shape == (2, 64)
    y = y.astype(np.float64) / 32768 if io == "int16" else y.astype(np.float64)
    # one LSB of the model's output scale, plus half a step of 16-bit PCM for the int16 output
    assert np.abs(y - y_ort).max() <= s_out + 0.5 / 32768 + 1e-9


def test_metadata_is_embedded_and_read_back(tmp_path, identity_model):
    onnx.save(identity_model, tmp_path / "m.onnx")
    meta = export(tmp_path / "m.onnx", tmp_path / "m.tflite")
    back = read_tflite_metadata(tmp_path / "m.tflite")
    assert back == json.loads(json.dumps(meta))
    assert back["sample_rate"] == 8000 and back["source_names"] == ["speech"] and back["n_src"] == 1
    assert back["input"] == {"name": "pcm", "dtype": "int16", "shape": [1, "T"], "value": back["input"]["value"],
                             "layout": "batch, time (mono)"}
    assert back["output"]["shape"] == ["n_src", "T"] and back["length"]["multiple_of"] == 1
    assert back["onnx_metadata"]["fqss.source_names"] == ["speech"]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file


def test_onnxruntime_static_quantizer_output_converts(tmp_path):
    """A QDQ graph from onnxruntime.quantization.quantize_static (per-channel int8) converts and matches."""
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, s).astype(np.float32), n)
             for n, s in (("w1", (8, 1, 5)), ("b1", (8,)), ("w2", (8, 1, 3)), ("w3", (2, 8, 1)))]
    nodes = [helper.make_node("Conv", ["mixture", "w1", "b1"], ["c1"], name="conv1", pads=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", group=8, pads=[1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["a"], name="add"),
             helper.make_node("Conv", ["a", "w3"], ["sources"], name="conv3")]
    g = helper.make_graph(nodes, "f", [helper.make_tensor_value_info("mixture", TensorProto.FLOAT, [1, 1, 256])],
                          [helper.make_tensor_value_info("sources", TensorProto.FLOAT, [1, 2, 256])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    onnx.save(m, tmp_path / "f.onnx")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"mixture": rng.uniform(-1, 1, (1, 1, 256)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(tmp_path / "f.onnx", tmp_path / "q.onnx", Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    q = onnx.load(tmp_path / "q.onnx")
    buf, _ = convert_model(q, io="float32")
    x = rng.uniform(-1, 1, (1, 1, 256)).astype(np.float32)
    s_out = next(float(numpy_helper.to_array(i)) for i in q.graph.initializer
                 if i.name.startswith("sources") and i.name.endswith("scale"))
    y = run_litert(buf, x.reshape(1, 256), "ref")
    assert np.abs(y.reshape(-1) - run_ort(q, {"mixture": x}).reshape(-1)).max() <= 1.01 * s_out
