"""runtimes/litert_backend.py: load / run / run_int16 with padding and cropping, kernels, open_backend."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from qdq_builder import fqss_identity_model

from fqss_edge.export.tflite import export
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.litert_backend import LiteRtBackend


@pytest.fixture(scope="module")
def identity_tflite(tmp_path_factory):
    d = tmp_path_factory.mktemp("identity")
    m = fqss_identity_model(length="T")
    m.metadata_props.add(key="fqss.io_contract", value='{"sample_rate": 8000, "n_src": 1, "stride": 4, '
                                                       '"kernel_size": 16, "source_names": ["speech"]}')
    for p in m.metadata_props:
        if p.key == "fqss.stride":
            p.value = "4"
        if p.key == "fqss.kernel_size":
            p.value = "16"
    onnx.save(m, d / "id.onnx")
    export(d / "id.onnx", d / "id.tflite")
    export(d / "id.onnx", d / "id_f32.tflite", io="float32")
    return d


@pytest.mark.parametrize("kernels", ["ref", "builtin", "xnnpack"])
@pytest.mark.parametrize("n", [1, 7, 16, 1000, 1003])
def test_run_int16_pads_and_crops(identity_tflite, kernels, n):
    be = LiteRtBackend(kernels=kernels, threads=2).load(identity_tflite / "id.tflite")
    pcm = np.random.default_rng(n).integers(-32768, 32768, n).astype(np.int16)
    out = be.run_int16(pcm)
    assert out.dtype == np.int16 and out.shape == (1, n)
    assert np.array_equal(out[0].astype(np.int32), np.clip(pcm.astype(np.int32) - 128, -32768, 32767))


def test_run_float_waveform(identity_tflite):
    be = open_backend(identity_tflite / "id.tflite", kernels="ref")
    assert be.name == "litert-ref"
    x = np.random.default_rng(0).uniform(-1, 1, 333).astype(np.float32)
    y = be.run(x)
    assert y.dtype == np.float32 and y.shape == (1, 333)
    pcm = np.floor(x.astype(np.float64) * 32768)
    assert np.array_equal(np.round(y[0] * 32768), np.clip(pcm - 128, -32768, 32767))
    # a second length re-sizes the interpreter
    assert be.run(x[:100]).shape == (1, 100)


def test_float32_io_model_runs_the_same(identity_tflite):
    a = LiteRtBackend().load(identity_tflite / "id.tflite")
    b = LiteRtBackend().load(identity_tflite / "id_f32.tflite")
    pcm = np.random.default_rng(1).integers(-32768, 32768, 500).astype(np.int16)
    assert np.array_equal(a.run_int16(pcm), b.run_int16(pcm))


def test_io_contract(identity_tflite):
    c = LiteRtBackend().load(identity_tflite / "id.tflite").io_contract
    assert (c.sample_rate, c.n_src, c.stride, c.kernel_size) == (8000, 1, 4, 16)
    assert c.source_names == ("speech",) and c.input_name == "pcm" and c.output_name == "sources"
    assert c.valid_length(17) == 20
    assert c.extra["tflite"]["io"] == "int16"


def test_run_int16_rejects_float(identity_tflite):
    from fqss_edge.errors import FqssError

    with pytest.raises(FqssError, match="int16 PCM"):
        LiteRtBackend().load(identity_tflite / "id.tflite").run_int16(np.zeros(10, np.float32))


@pytest.fixture(scope="module")
def float_tflite(tmp_path_factory):
    """A float32 model (no Q/DQ): sources = [x / 2, -x]; stride 4, kernel 16."""
    from qdq_builder import QDQ

    b = QDQ(channels=1, length="T")
    half = b.node("Mul", ["mixture", b.const(np.array(0.5, np.float32))])
    neg = b.node("Mul", ["mixture", b.const(np.array(-1.0, np.float32))])
    b.float_output(b.node("Concat", [half, neg], axis=1))
    b.metadata.update({"fqss.stride": "4", "fqss.kernel_size": "16", "fqss.n_src": "2", "fqss.sample_rate": "8000"})
    d = tmp_path_factory.mktemp("float")
    onnx.save(b.model(), d / "f.onnx")
    export(d / "f.onnx", d / "f.tflite")
    return d / "f.tflite"


@pytest.mark.parametrize("kernels", ["ref", "xnnpack"])
@pytest.mark.parametrize("n", [1, 7, 1003])
def test_float_model_runs_the_waveform_unrounded(float_tflite, kernels, n):
    be = LiteRtBackend(kernels=kernels).load(float_tflite)
    assert be.precision == "float32" and be.io_contract.n_src == 2
    x = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)  # not on the 16-bit PCM grid
    y = be.run(x)
    assert y.dtype == np.float32 and y.shape == (2, n)
    assert np.array_equal(y[0], x * np.float32(0.5)) and np.array_equal(y[1], -x)
    pcm = np.random.default_rng(n).integers(-32768, 32768, n).astype(np.int16)
    out = be.run_int16(pcm)
    assert out.dtype == np.int16 and np.array_equal(out[0], np.floor(pcm / 2 + 0.5).astype(np.int16))
