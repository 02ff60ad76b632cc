"""The onnxruntime flavour of the int8 graph (export/onnx/flavour.py): the same quantized values bit for bit
(onnxruntime without optimisation, every tensor), integer kernels in onnxruntime's optimised graph, exact
convolutions (no 16-bit saturation: a one-node case), and the export target selection."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, numpy_helper
from typer.testing import CliRunner

from fqss_edge.assets import __file__ as assets_init
from fqss_edge.cli.main import app
from fqss_edge.errors import FqssError
from fqss_edge.export.bundle import export_bundle
from fqss_edge.export.onnx import apply_flavour, export_checkpoint
from fqss_edge.export.onnx.flavour import FLAVOUR_KEY, flavour_of, onnxruntime_flavour, uint8_activations
from fqss_edge.parity.synthetic import (FQSS_QUANT, FQSS_QUANT_NORM8, TINY_MODEL, VANILLA_QUANT, random_audio,
                                        save_random_checkpoint, smoke_model)
from fqss_edge.runtimes.onnxruntime_backend import OPT_LEVELS, OnnxRuntimeBackend, contract_of

SHIPPED = Path(assets_init).parent / "convtasnet_tiny_fqss.safetensors"
RANDOM = {"fqss_norm16": (TINY_MODEL, FQSS_QUANT), "vanilla": (TINY_MODEL, VANILLA_QUANT),
          "sepformer_fqss8": (smoke_model("sepformer"), FQSS_QUANT_NORM8)}


@pytest.fixture(scope="module", params=["shipped", *RANDOM], ids=["shipped", *RANDOM])
def flavours(request, tmp_path_factory):
    """(contract graph path, onnxruntime flavour path) of one checkpoint."""
    d = tmp_path_factory.mktemp(request.param)
    if request.param == "shipped":
        ckpt = SHIPPED
    else:
        ckpt = save_random_checkpoint(d / "model.safetensors", *RANDOM[request.param])
    exported = export_checkpoint(ckpt, d / "ort")
    contract = d / "contract.onnx"
    shutil.copyfile(exported.path, contract)
    ort = apply_flavour(exported, "onnxruntime")
    assert ort.flavour == "onnxruntime" and "onnxruntime flavour" in ort.summary()
    return contract, ort.path


def _wave(n: int = 4000) -> np.ndarray:
    return random_audio(1, n, seed=5)[0].numpy()


def test_same_values_bit_for_bit_without_optimisation(flavours):
    """Every tensor of the flavour is the contract graph's."""
    contract, ort = flavours
    a, b = OnnxRuntimeBackend("off").load(contract), OnnxRuntimeBackend("off").load(ort)
    x = _wave()
    assert np.array_equal(a.run(x), b.run(x))
    ca, cb = a.intermediates(x), b.intermediates(x)
    assert set(ca) == set(cb)  # the negated means are read back under the mean's name
    for name in ca:
        assert np.array_equal(ca[name], cb[name]), name


def test_graph_is_uint8_and_checked(flavours):
    contract, ort = flavours
    proto = onnx.load(str(ort))
    onnx.checker.check_model(proto, full_check=True)
    contract_of(proto, ort)  # metadata and the initializer hash (rewritten) load
    assert flavour_of(proto) == "onnxruntime" and flavour_of(onnx.load(str(contract))) == "tflite"
    types = {i.data_type for i in proto.graph.initializer}
    assert onnx.TensorProto.INT8 not in types and onnx.TensorProto.UINT8 in types
    with pytest.raises(FqssError, match="already"):
        onnxruntime_flavour(proto)
    ops = {n.op_type for n in proto.graph.node}
    assert "LeakyRelu" not in ops and {"Mul", "Add"} <= ops  # int8 LeakyReLU: relu(x) + alpha x (QPReLU)


def _optimised_ops(path: Path, tmp_path: Path) -> Counter:
    out = tmp_path / "optimised.onnx"
    OnnxRuntimeBackend("all", optimized_model_path=out).load(path)
    return Counter(n.op_type for n in onnx.load(str(out)).graph.node)


def test_onnxruntime_runs_integer_kernels(flavours, tmp_path):
    """Every Conv a QLinearConv, QLinearAdd/QLinearMul, no float Sub over a whole tensor (the gLN centring is a
    QLinearAdd of the negated mean), every gLN mean's channel sum a MatMulIntegerToFloat."""
    contract, ort = flavours
    nodes = onnx.load(str(contract)).graph.node
    source = Counter(n.op_type for n in nodes)
    ops = _optimised_ops(ort, tmp_path)
    assert ops["QLinearConv"] == source["Conv"] and ops["Conv"] == 0
    assert ops["QLinearAdd"] > 0 and ops["QLinearMul"] > 0
    centring = [n for n in nodes if n.op_type == "Sub" and "/centered/" in n.name]
    assert ops["Sub"] == source["Sub"] - len(centring)  # the rest: the splitter island's and the residual's
    made = {o: n for n in nodes for o in n.output}
    composites = [n for n in nodes if n.op_type == "ReduceMean" and made.get(n.input[0], n).op_type == "ReduceMean"]
    assert ops["MatMulIntegerToFloat"] == len(composites)  # each gLN mean's channel sum over the integer codes


def _adversarial_conv(cin: int = 8, cout: int = 4, k: int = 3) -> onnx.ModelProto:
    """DQ -> Conv -> Q with weights at +-127 and int8 activations: pairs of products up to 2 * 255 * 127 once the
    activations are uint8, beyond the 16 bits of vpmaddubsw."""
    w = np.full((cout, cin, k), 127, np.int8)
    w[1], w[2, ::2] = -127, -127
    inits = [numpy_helper.from_array(np.array(1 / 128, np.float32), "x.scale"),
             numpy_helper.from_array(np.array(0, np.int8), "x.zero_point"), numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(np.full(cout, 1e-3, np.float32), "w.scale"),
             numpy_helper.from_array(np.zeros(cout, np.int8), "w.zero_point"),
             numpy_helper.from_array(np.array(0.05, np.float32), "y.scale"),
             numpy_helper.from_array(np.array(3, np.int8), "y.zero_point")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x.scale", "x.zero_point"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x.scale", "x.zero_point"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w", "w.scale", "w.zero_point"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["c"]),
             helper.make_node("QuantizeLinear", ["c", "y.scale", "y.zero_point"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "y.scale", "y.zero_point"], ["y"])]
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, cin, 64])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, cout, 64 - k + 1])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def _run(model: onnx.ModelProto, optimization: str) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVELS[optimization]
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = np.full((1, 8, 64), 0.99, np.float32)
    x[..., ::5] = -1.0
    return sess.run(None, {"x": x})[0]


def test_convolution_exact_in_integer_kernels():
    """The flavour's uint8 weights keep onnxruntime's QLinearConv exact where u8s8 kernels saturate (uint8
    activations with int8 weights were 60 codes off here, on AVX2 without VNNI)."""
    model = _adversarial_conv()
    uint8_activations(model.graph)
    assert {i.data_type for i in model.graph.initializer} == {onnx.TensorProto.FLOAT, onnx.TensorProto.UINT8}
    assert np.abs(_run(model, "all") - _run(model, "off")).max() <= 0.05 + 1e-6  # <= 1 code
    assert np.array_equal(_run(model, "off"), _run(_adversarial_conv(), "off"))


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return save_random_checkpoint(tmp_path_factory.mktemp("tiny") / "m.safetensors", TINY_MODEL, VANILLA_QUANT)


def test_bundle_target(tmp_path, tiny_ckpt):
    ort = export_bundle(tiny_ckpt, tmp_path / "ort", formats=("onnx",))
    contract = export_bundle(tiny_ckpt, tmp_path / "tfl", formats=("onnx",), target="tflite")
    assert flavour_of(onnx.load(str(ort.onnx.path))) == "onnxruntime"
    assert flavour_of(onnx.load(str(contract.onnx.path))) == "tflite"
    with pytest.raises(FqssError, match="target 'coreml'"):
        export_bundle(tiny_ckpt, tmp_path / "bad", formats=("onnx",), target="coreml")
    assert not (tmp_path / "bad").exists()


def test_float_export_has_one_graph(tmp_path):
    ckpt = save_random_checkpoint(tmp_path / "float.safetensors", TINY_MODEL, None)
    result = export_bundle(ckpt, tmp_path / "out", formats=("onnx",))
    assert FLAVOUR_KEY not in {p.key for p in onnx.load(str(result.onnx.path)).metadata_props}


def test_cli_target(tmp_path, tiny_ckpt):
    r = CliRunner().invoke(app, ["export", str(tiny_ckpt), "--int8", "--format", "onnx", "--target", "tflite",
                                 "-o", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "tflite flavour" in r.output
    r = CliRunner().invoke(app, ["export", str(tiny_ckpt), "--int8", "--target", "nope", "-o", str(tmp_path / "b")])
    assert r.exit_code == 2


def _time_mean_node(scale: float) -> onnx.ModelProto:
    """``Q -> DQ -> ReduceMean(axes=[2]) -> Q`` of int16 codes at one scale (the gLN's ``q_var_time``), a dynamic
    time axis."""
    inits = [numpy_helper.from_array(np.array(scale, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int16), "z"),
             numpy_helper.from_array(np.array([2], np.int64), "axes")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["sq"]),
             helper.make_node("DequantizeLinear", ["sq", "s", "z"], ["sqf"]),
             helper.make_node("ReduceMean", ["sqf", "axes"], ["m"], keepdims=1),
             helper.make_node("QuantizeLinear", ["m", "s", "z"], ["var_time"])]
    g = helper.make_graph(nodes, "time_mean", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16, "T"])],
                          [helper.make_tensor_value_info("var_time", onnx.TensorProto.INT16, [1, 16, 1])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


@pytest.mark.parametrize("optimization", ["off", "all"])
@pytest.mark.parametrize("t", [4, 250, 1000, 4001])
def test_int16_time_mean_equals_the_simulation(t, optimization):
    """One node: the flavour's time mean of int16 codes (the gLN's ``q_var_time``) is the simulation's code
    exactly, exact ties (k + 1/2) and near ties included (onnxruntime's float32 ReduceMean rounded some ties the
    other way)."""
    from fqss_edge.export.onnx.flavour import exact_time_means
    from fqss_edge.quant import QTensor
    from fqss_edge.quant.layers.norm import exact_time_mean

    sys.path.insert(0, str(Path(__file__).parents[2] / "quant"))  # tests use --import-mode=importlib
    from ties import half_even_mean, tie_codes

    scale = np.float32(1.37e-4)
    codes = tie_codes(16, t, seed=t)
    x = codes.astype(np.float32) * scale
    xq = QTensor(torch.from_numpy(x), torch.tensor(scale), torch.tensor(0), 16)
    sim = torch.round(exact_time_mean(xq, xq.value.mean(dim=2, keepdim=True)) / xq.scale).numpy().astype(np.int64)
    assert np.array_equal(sim, half_even_mean(codes))
    m = _time_mean_node(float(scale))
    exact_time_means(m.graph)
    onnx.checker.check_model(m, full_check=True)
    assert Counter(n.op_type for n in m.graph.node)["ReduceMean"] == 0
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVELS[optimization]
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    assert np.array_equal(sess.run(None, {"x": x})[0].astype(np.int64), sim)
