"""Whole models through the float32 path: the shipped tiny float checkpoint and the tiny FQSS checkpoint exported
``--float`` (and a random full-size Conv-TasNet), float ONNX -> float32 .tflite. LiteRT vs onnxruntime vs
PyTorch float, XNNPACK in one partition, the embedded metadata, a float32 graph, and loud failures."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.assets import asset
from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import export_checkpoint, export_onnx
from fqss_edge.export.tflite import convert_model, export, read_tflite_metadata
from fqss_edge.export.tflite.builder import NUMPY_TYPES
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.parity.synthetic import random_audio
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.litert_backend import LiteRtBackend, xnnpack_delegation
from fqss_edge.runtimes.torch_backend import TorchBackend

CHECKPOINTS = {"tiny_float": "convtasnet_tiny_float.safetensors",
               "tiny_fqss_as_float": "convtasnet_tiny_fqss.safetensors"}
RTOL = 1e-4  # of the output's largest magnitude


@pytest.fixture(scope="module", params=list(CHECKPOINTS))
def exported(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    ckpt = asset(CHECKPOINTS[request.param])
    onnx_path = export_checkpoint(ckpt, d, quantized=False).path
    meta = export(onnx_path, d / "model.tflite")
    return request.param, ckpt, onnx_path, d / "model.tflite", meta


def _audio(n: int, seed: int = 3) -> np.ndarray:
    return random_audio(1, n, seed=seed).reshape(-1)[:n].numpy().astype(np.float32)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-6))


def test_litert_matches_onnxruntime_and_pytorch(exported):
    name, ckpt, onnx_path, tfl, _ = exported
    x = _audio(2003)  # not a valid length: the backends pad and crop; not on the 16-bit grid either
    y_ort = open_backend(onnx_path).run(x)
    y_torch = TorchBackend(quantized=False).load(ckpt).run(x)
    assert _rel(y_ort, y_torch) <= RTOL
    for kernels in ("ref", "xnnpack"):
        y = open_backend(tfl, kernels=kernels).run(x)
        assert y.dtype == np.float32 and y.shape == y_ort.shape == (2, 2003)
        assert _rel(y, y_ort) <= RTOL, f"{name} {kernels}: LiteRT vs onnxruntime {_rel(y, y_ort):.2e} relative"
        assert _rel(y, y_torch) <= RTOL, f"{name} {kernels}: LiteRT vs PyTorch float {_rel(y, y_torch):.2e} relative"


def test_xnnpack_takes_the_whole_graph(exported):
    name, *_, tfl, _ = exported
    d = xnnpack_delegation(tfl, length=4000)
    assert d["partitions"] == 1 and d["delegated"] == d["operators"] and not d["not_delegated"], f"{name}: {d}"


def test_metadata_and_backend_contract(exported):
    name, _, _, tfl, meta = exported
    md = read_tflite_metadata(tfl)
    assert md == meta
    assert md["precision"] == "float32" and md["io"] == "float32" and md["integer_only"] is False
    assert md["input"]["dtype"] == "float32" and md["output"]["dtype"] == "float32"
    assert md["sample_rate"] == 8000 and md["n_src"] == 2 and md["source_names"] == ["s1", "s2"]
    assert md["length"]["multiple_of"] == 8 and md["length"]["min"] == 16
    assert md["onnx_metadata"]["fqss.model_config"]["n_filters"] > 0
    assert md["input_splitter"] == md["residual_output"] == (name == "tiny_fqss_as_float")
    be = LiteRtBackend().load(tfl)
    c = be.io_contract
    assert be.precision == "float32" and (c.sample_rate, c.n_src, c.stride, c.kernel_size) == (8000, 2, 8, 16)
    pcm = np.round(_audio(500) * 32767).astype(np.int16)
    assert be.run_int16(pcm).shape == (2, 500)


def test_graph_is_float32_with_the_integer_layout(exported):
    *_, tfl, _ = exported
    data = tfl.read_bytes()
    assert data[4:8] == b"TFL3"
    m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    assert m.version == 3 and not m.buffers[0].data
    sg = m.subgraphs[0]
    codes = {m.operatorCodes[op.opcodeIndex].builtinCode for op in sg.operators}
    assert B.QUANTIZE not in codes and B.DEQUANTIZE not in codes
    assert {B.CONV_2D, B.DEPTHWISE_CONV_2D, B.LEAKY_RELU, B.MEAN, B.RSQRT, B.MUL, B.ADD, B.SUB} <= codes
    assert B.TRANSPOSE_CONV not in codes  # resizable length: PAD + CONV_2D + RESHAPE (as in the int8 file)
    for op in sg.operators:
        for i in list(op.outputs) + [op.inputs[0]]:
            assert NUMPY_TYPES[sg.tensors[i].type] == np.float32, f"tensor {sg.tensors[i].name} is not float32"


def test_fixed_length_writes_transpose_conv(exported):
    _, _, onnx_path, tfl, _ = exported
    buf, meta = convert_model(onnx.load(onnx_path), length=1600)
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    assert B.TRANSPOSE_CONV in {oc.builtinCode for oc in m.operatorCodes} and meta["fixed_length"] == 1600
    from conftest import run_litert

    x = _audio(1600, seed=4).reshape(1, -1)
    a = run_litert(buf, x, "xnnpack")
    b = run_litert(tfl.read_bytes(), x, "xnnpack")
    assert _rel(a, b) <= 1e-5


def test_full_size_random_model(tmp_path):
    import torch

    from fqss_edge.config import load_config, shipped_config
    from fqss_edge.models import build_model

    cfg = load_config(shipped_config("convtasnet_2spks_8k")).model_dump()
    torch.manual_seed(0)
    model = build_model(cfg["model"], {**cfg["quant"], "enabled": False})
    export_onnx(model, tmp_path / "full.onnx", False, cfg)
    export(tmp_path / "full.onnx", tmp_path / "full.tflite")
    x = _audio(8000, seed=6)
    y_ort = open_backend(tmp_path / "full.onnx").run(x)
    y = open_backend(tmp_path / "full.tflite", kernels="xnnpack").run(x)
    assert _rel(y, y_ort) <= RTOL, f"full-size: LiteRT vs onnxruntime {_rel(y, y_ort):.2e} relative"
    d = xnnpack_delegation(tmp_path / "full.tflite", length=8000)
    assert d["partitions"] == 1 and d["delegated"] == d["operators"]


# -- failures: one line, naming the file or the node ---------------------------------------------------------
def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


@pytest.mark.parametrize("how", ["truncated", "garbage", "no_nodes"])
def test_corrupt_float_onnx(exported, tmp_path, how):
    _, _, onnx_path, *_ = exported
    data = onnx_path.read_bytes()
    bad = tmp_path / "bad.onnx"
    if how == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        bad.write_bytes(b"\x00\xff not onnx" * 50)
    else:
        m = onnx.load(onnx_path)
        del m.graph.node[:]
        onnx.save(m, bad)
    with pytest.raises(FqssError) as e:
        export(bad, tmp_path / "out.tflite")
    assert str(bad) in _one_line(e)
    assert not (tmp_path / "out.tflite").exists() and not list(tmp_path.glob(".out.tflite.*"))


def test_unsupported_float_node_names_node_and_op(exported):
    _, _, onnx_path, *_ = exported
    m = onnx.load(onnx_path)
    relu = next(n for n in m.graph.node if n.op_type == "LeakyRelu")
    relu.op_type, relu.name = "Erf", "masker.weird_erf"
    del relu.attribute[:]
    with pytest.raises(FqssError) as e:
        convert_model(m)
    msg = _one_line(e)
    assert "masker.weird_erf" in msg and "Erf" in msg and "float32" in msg


def test_precision_and_io_must_fit_the_graph(exported):
    _, _, onnx_path, *_ = exported
    m = onnx.load(onnx_path)
    with pytest.raises(FqssError, match="precision int8 was asked"):
        convert_model(m, precision="int8")
    with pytest.raises(FqssError, match="float32 I/O"):
        convert_model(m, io="int16")
    with pytest.raises(FqssError, match="precision='fp16'"):
        convert_model(m, precision="fp16")
