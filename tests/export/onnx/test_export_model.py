"""Whole-model export: FQSS and vanilla int8 QDQ graphs pass the ONNX checker and the QDQ verifier, carry the
metadata of the contract, and match the PyTorch simulation; float export; atomic writes; the full-size model."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import check_qdq_graph, expected_from_model, export_checkpoint, export_onnx
from fqss_edge.parity.synthetic import (FQSS_QUANT, TINY_MODEL, VANILLA_QUANT, calibrated_random_model,
                                        save_random_checkpoint)
from fqss_edge.runtimes.torch_backend import without_quantization

FULL = dict(n_src=2, n_filters=512, kernel_size=16, stride=8, bn_chan=128, hid_chan=512, skip_chan=128,
            conv_kernel_size=3, n_blocks=8, n_repeats=3, mask_act="relu", encoder_act="relu")
VARIANTS = {"fqss": FQSS_QUANT, "vanilla": VANILLA_QUANT}
CONFIG = {"model": dict(TINY_MODEL, sample_rate=8000)}


def _has_vnni() -> bool:
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _ort(path, x: np.ndarray, signed_kernels: bool = True) -> np.ndarray:
    """onnxruntime with full optimisation. ``signed_kernels``: keep the
    int8 activations signed (``session.qdqisint8allowed``, as ``runtimes/onnxruntime_backend.py`` does). Without
    it, onnxruntime on x86 converts them to uint8, and its AVX2 u8s8 kernels (CPUs without VNNI) saturate pairs of
    products to int16."""
    so = ort.SessionOptions()
    if signed_kernels:
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"mixture": x})[0]


@pytest.mark.parametrize("quant", list(VARIANTS.values()), ids=list(VARIANTS))
def test_int8_export_passes_checker_verifier_and_matches_simulation(tmp_path, quant):
    model = calibrated_random_model(TINY_MODEL, quant)
    result = export_onnx(model, tmp_path / "model.onnx", config=dict(CONFIG, quant=quant))
    proto = onnx.load(str(result.path))
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    assert proto.opset_import[0].version == 21
    x = (torch.rand(1, 1, 800) - 0.5).numpy()
    with torch.no_grad():
        ref = model.forward_core(torch.from_numpy(x)).numpy()
    lsb = 1 / 32768 if quant["residual_output"] else model.decoder.out_quant.export_qparams()[0]
    assert np.abs(_ort(result.path, x) - ref).max() <= 1.01 * lsb


@pytest.mark.skipif(not _has_vnni(), reason="onnxruntime's default (uint8) session saturates int16 pair sums in its "
                                            "AVX2 u8s8 kernels on CPUs without VNNI")
def test_default_onnxruntime_session_matches_simulation_on_vnni_cpus(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    path = export_onnx(model, tmp_path / "model.onnx").path
    x = (torch.rand(1, 1, 800, generator=torch.Generator().manual_seed(1)) - 0.5).numpy()
    with torch.no_grad():
        ref = model.forward_core(torch.from_numpy(x)).numpy()
    assert np.abs(_ort(path, x, signed_kernels=False) - ref).max() <= 1.01 / 32768


def test_time_axis_is_dynamic(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    path = export_onnx(model, tmp_path / "model.onnx").path
    proto = onnx.load(str(path))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 1, "T"]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 2, "T"]
    for t in (160, 1600):
        assert _ort(path, np.zeros((1, 1, t), np.float32)).shape == (1, 2, t)


def test_metadata_follows_the_contract(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    proto = onnx.load(str(export_onnx(model, tmp_path / "m.onnx", config=dict(CONFIG, quant=FQSS_QUANT)).path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["fqss.sample_rate"] == "8000" and meta["fqss.n_src"] == "2"
    assert meta["fqss.stride"] == "8" and meta["fqss.kernel_size"] == "16"
    assert json.loads(meta["fqss.source_names"]) == ["s1", "s2"]
    assert json.loads(meta["fqss.model_config"])["n_filters"] == 16
    assert json.loads(meta["fqss.quant_config"])["splitter"] is True
    io = json.loads(meta["fqss.io_contract"])
    assert io["input"]["name"] == "mixture" and io["output"]["name"] == "sources"
    assert io["length"] == {"multiple_of": 8, "min": 16, "constraint": "T % stride == 0 and T >= kernel_size"}
    islands = json.loads(meta["fqss.islands"])
    assert set(islands) == {"input_splitter", "output_reconstruction"}
    names = {n.name for n in proto.graph.node}
    assert all(n.startswith(k + "/") and n in names for k, v in islands.items() for n in v["nodes"])
    int16 = json.loads(meta["fqss.int16_tensors"])
    assert "masker.norm.q_rstd" in int16 and "masker.blocks.0.norm1.q_square" in int16


def test_names_follow_pytorch_modules(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    proto = onnx.load(str(export_onnx(model, tmp_path / "m.onnx").path))
    q_outputs = {n.output[0] for n in proto.graph.node if n.op_type == "QuantizeLinear"}
    assert {"masker.blocks.1.dw_conv.out_quant", "decoder.out_quant", "residual.q_y1", "input"} <= q_outputs
    nodes = {n.name for n in proto.graph.node}
    assert "masker.blocks.1.dw_conv/Conv" in nodes


def test_weights_and_biases_are_stored_as_integers_with_per_channel_axis(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    proto = onnx.load(str(export_onnx(model, tmp_path / "m.onnx").path))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert inits["masker.blocks.0.dw_conv.weight"].dtype == np.int8
    assert inits["masker.blocks.0.dw_conv.bias"].dtype == np.int32
    assert inits["decoder.weight"].dtype == np.int8
    dq_axis = {n.input[0]: n.attribute[0].i for n in proto.graph.node
               if n.op_type == "DequantizeLinear" and n.attribute}
    assert dq_axis["masker.bottleneck.weight"] == 0 and dq_axis["decoder.weight"] == 1
    codes, scale = model.masker.bottleneck.weight_quant.export(model.masker.bottleneck.conv.weight)
    assert np.array_equal(inits["masker.bottleneck.weight"], codes.numpy())
    assert inits["masker.bottleneck.weight.scale"].tobytes() == scale.numpy().tobytes()


def test_float_export_is_a_plain_float_graph(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    path = export_onnx(model, tmp_path / "f.onnx", quantized=False).path
    proto = onnx.load(str(path))
    assert not {"QuantizeLinear", "DequantizeLinear"} & {n.op_type for n in proto.graph.node}
    x = (torch.rand(1, 1, 800) - 0.5).numpy()
    with torch.no_grad():
        ref = without_quantization(model).forward_core(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_ort(path, x), ref, atol=1e-5)


def test_float_checkpoint_exports_with_float_and_refuses_int8(tmp_path):
    ckpt = save_random_checkpoint(tmp_path / "float.safetensors", TINY_MODEL, None)
    result = export_checkpoint(ckpt, tmp_path / "out")
    assert result.path == tmp_path / "out" / "model.onnx" and not result.quantized
    with pytest.raises(FqssError, match="float checkpoint cannot be exported --int8"):
        export_checkpoint(ckpt, tmp_path / "out2", quantized=True)


def test_failed_verification_writes_nothing(tmp_path, monkeypatch):
    import fqss_edge.export.onnx.exporter as exporter

    def broken(*_a, **_k):
        raise FqssError("model.onnx: QDQ contract violated")

    monkeypatch.setattr(exporter, "verify_qdq_graph", broken)
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    with pytest.raises(FqssError):
        export_onnx(model, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_atomically(tmp_path):
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    export_onnx(model, tmp_path / "model.onnx")
    export_onnx(model, tmp_path / "model.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("quant", list(VARIANTS.values()), ids=list(VARIANTS))
def test_full_size_model_exports_and_verifies(tmp_path, quant):
    model = calibrated_random_model(FULL, quant, length=256, batch_size=1)
    result = export_onnx(model, tmp_path / "full.onnx")  # runs onnx.checker (full) and the QDQ verifier
    n_convs = 1 + 1 + 24 * 4 + 1 + (1 if quant["residual_output"] else 0)  # enc, bottleneck, 4/block, mask, reenc
    assert result.op_counts["Conv"] == n_convs
    assert result.path.stat().st_size > 5_000_000  # ~5.05 M int8 weights


@pytest.mark.parametrize("norm_bits", [16, 8])
def test_gln_means_are_time_then_channel_means(tmp_path, norm_bits):
    """Means over C x T are ReduceMean(T) -> ReduceMean(C); int16 time means are quantized in between at the
    squares' own scale (q_var_time), the int8 ones are a float composite. With int8 statistics the variance is
    the sum of two means (split squares). onnxruntime matches the simulation."""
    model = calibrated_random_model(TINY_MODEL, {**FQSS_QUANT, "norm_bits": norm_bits})
    result = export_onnx(model, tmp_path / "split.onnx")
    proto = onnx.load(str(result.path))
    names = {n.name for n in proto.graph.node}
    var_means = ["var"] if norm_bits == 16 else ["var_small", "var_rest"]
    for v in var_means:
        assert {f"masker.norm/{v}/ReduceMean_time", f"masker.norm/{v}/ReduceMean_channels"} <= names
    assert result.op_counts["ReduceMean"] == 2 * 5 * (1 + len(var_means))  # 5 gLNs x (mean, var means) x 2
    tied = {n.output[0] for n in proto.graph.node if n.op_type == "QuantizeLinear" and "q_var_time" in n.output[0]}
    assert len(tied) == (5 if norm_bits == 16 else 0)
    x = (torch.rand(1, 1, 800) - 0.5).numpy()
    with torch.no_grad():
        ref = model.forward_core(torch.from_numpy(x)).numpy()
    assert np.abs(_ort(result.path, x) - ref).max() <= 1.01 / 32768
    from fqss_edge.export.tflite import export as export_tflite
    from fqss_edge.export.tflite.reference import ReferenceModel

    export_tflite(result.path, tmp_path / "model.tflite")
    ops = ReferenceModel.from_file(tmp_path / "model.tflite").op_names()
    # a float ReduceMean pair is one MEAN; the int16 variance is MEAN over time, then MEAN over channels
    assert ops.count("MEAN") == 5 * (1 + len(var_means)) + (5 if norm_bits == 16 else 0)
