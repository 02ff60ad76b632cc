"""Runtimes: open_backend by suffix, any input length (pad + crop), onnxruntime optimisation levels, integer
convolution kernels in the optimised graph, intermediates for per-layer parity, clear errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import torch

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_checkpoint
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, VANILLA_QUANT, random_audio, save_random_checkpoint
from fqss_edge.runtimes import BACKENDS, Backend, SupportsIntermediates, open_backend
from fqss_edge.runtimes.onnxruntime_backend import OPT_LEVELS, OnnxRuntimeBackend
from fqss_edge.runtimes.torch_backend import TorchBackend

VARIANTS = {"fqss": FQSS_QUANT, "vanilla": VANILLA_QUANT}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def exported(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    ckpt = save_random_checkpoint(d / "model.safetensors", TINY_MODEL, VARIANTS[request.param])
    return ckpt, export_checkpoint(ckpt, d).path


def _wave(n: int, seed: int = 3) -> np.ndarray:
    return random_audio(1, n, seed)[0].numpy()


def test_open_backend_picks_by_suffix(exported):
    ckpt, onnx_path = exported
    ref, ort_b = open_backend(ckpt), open_backend(onnx_path, optimization="off")
    assert isinstance(ref, TorchBackend) and isinstance(ort_b, OnnxRuntimeBackend)
    for b in (ref, ort_b):
        assert isinstance(b, Backend) and isinstance(b, SupportsIntermediates)
    assert ref.io_contract == ort_b.io_contract
    assert ort_b.name == "onnxruntime[opt=off]" and ref.name == "pytorch"


def test_tflite_suffix_is_routed_to_the_litert_backend():
    assert BACKENDS[".tflite"] == ("fqss_edge.runtimes.litert_backend", "LiteRtBackend")


def test_unknown_suffix_is_a_clear_error(tmp_path):
    with pytest.raises(FqssError, match=r"model.bin: no runtime for '.bin' files"):
        open_backend(tmp_path / "model.bin")


@pytest.mark.parametrize("length", [15, 800, 801, 1237])
def test_any_length_is_padded_and_cropped(exported, length):
    ckpt, onnx_path = exported
    ref = open_backend(ckpt)
    x = _wave(length)
    y_ref = ref.run(x)
    assert y_ref.shape == (2, length) and y_ref.dtype == np.float32
    with torch.no_grad():  # the model's own forward pads and crops the same way
        np.testing.assert_array_equal(y_ref, ref.model(torch.from_numpy(x)[None])[0].numpy())
    lsb = ref.io_contract.output_lsb
    for level in ("off", "all"):
        y = open_backend(onnx_path, optimization=level).run(x)
        assert y.shape == (2, length)
        assert np.abs(y - y_ref).max() <= 1.01 * lsb


@pytest.mark.parametrize("level", list(OPT_LEVELS))
def test_every_optimisation_level_runs_within_1_lsb(exported, level):
    ckpt, onnx_path = exported
    ref = open_backend(ckpt)
    x = _wave(1600)
    backend = OnnxRuntimeBackend(level, threads=2).load(onnx_path)
    assert np.abs(backend.run(x) - ref.run(x)).max() <= 1.01 * ref.io_contract.output_lsb


def test_full_optimisation_runs_every_convolution_as_an_integer_kernel(exported, tmp_path):
    _, onnx_path = exported
    optimized = tmp_path / "optimized.onnx"
    OnnxRuntimeBackend("all", optimized_model_path=optimized).load(onnx_path)
    ops = Counter(n.op_type for n in onnx.load(str(optimized)).graph.node)
    n_conv = Counter(n.op_type for n in onnx.load(str(onnx_path)).graph.node)["Conv"]
    assert ops["QLinearConv"] == n_conv and ops["Conv"] == 0, ops
    assert ops["QLinearAdd"] > 0 and ops["QLinearMul"] > 0 and ops["LeakyRelu"] == 0


def test_intermediates_are_named_after_the_pytorch_quantizers(exported):
    ckpt, onnx_path = exported
    x = _wave(800)
    ref = open_backend(ckpt).intermediates(x)
    got = open_backend(onnx_path, optimization="off").intermediates(x)
    common = [n for n in ref if n in got]
    assert len(common) == len(ref) and "masker.blocks.1.norm2.q_rstd" in common
    for name in common:
        assert got[name].shape == ref[name].shape, name
        assert np.abs(got[name] - ref[name]).max() <= 1, name


def test_torch_backend_float_mode_disables_quantizers(exported):
    ckpt, _ = exported
    x = _wave(800)
    q, f = TorchBackend().load(ckpt), TorchBackend(quantized=False).load(ckpt)
    assert f.name == "pytorch-float"
    assert not np.array_equal(q.run(x), f.run(x))
    assert q.run(x).shape == f.run(x).shape


def test_waveform_must_be_1d(exported):
    _, onnx_path = exported
    with pytest.raises(FqssError, match=r"1-D array \[T\]"):
        open_backend(onnx_path).run(np.zeros((2, 100), np.float32))


def test_corrupt_and_foreign_onnx_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(FqssError, match=r"bad.onnx: not a readable ONNX model"):
        open_backend(bad)
    with pytest.raises(FqssError, match=r"missing.onnx: no such file"):
        open_backend(tmp_path / "missing.onnx")
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    g = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                               [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(g), str(tmp_path / "foreign.onnx"))
    with pytest.raises(FqssError, match=r"foreign.onnx: not an fqss-edge export"):
        open_backend(tmp_path / "foreign.onnx")
