"""The QDQ verifier catches deliberately broken graphs: a removed Q node, altered scales, undeclared int16
tensors or islands, float weights."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx import build_onnx, check_qdq_graph, expected_from_model, verify_qdq_graph
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, calibrated_random_model


@pytest.fixture(scope="module")
def exported():
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    return model, build_onnx(model)


def _copy(proto: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    return m


def _issues(model, proto):
    return check_qdq_graph(proto, expected_from_model(model))


def _set_init(proto: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    (init,) = [i for i in proto.graph.initializer if i.name == name]
    init.CopyFrom(numpy_helper.from_array(value, name))


def _remove_q(proto: onnx.ModelProto, tensor: str) -> None:
    """Delete the QuantizeLinear writing ``tensor`` and the DQs reading it; their readers take the float directly."""
    g = proto.graph
    (q,) = [n for n in g.node if n.op_type == "QuantizeLinear" and n.output[0] == tensor]
    dqs = [n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == tensor]
    renamed = {dq.output[0]: q.input[0] for dq in dqs}
    for n in g.node:
        for i, name in enumerate(n.input):
            if name in renamed:
                n.input[i] = renamed[name]
    for n in [q, *dqs]:
        g.node.remove(n)


def test_exported_graph_is_clean(exported):
    model, proto = exported
    assert _issues(model, proto) == []
    verify_qdq_graph(proto, expected_from_model(model))


def test_removed_q_node_is_an_unquantized_tensor(exported):
    model, proto = exported
    broken = _copy(proto)
    _remove_q(broken, "masker.blocks.0.in_conv.out_quant")
    issues = _issues(model, broken)
    assert [i.kind for i in issues] == ["unquantized", "qparams"]
    assert "masker.blocks.0.in_conv/Conv (Conv) -> masker.blocks.0.act1/Mul (Mul)" in str(issues[0])
    assert str(issues[1]) == ("masker.blocks.0.in_conv.out_quant: quantizer of the checkpoint has no "
                              "QuantizeLinear in the graph")


def test_altered_activation_scale_is_reported_by_name(exported):
    model, proto = exported
    broken = _copy(proto)
    name = "masker.blocks.0.dw_conv.out_quant.scale"
    old = numpy_helper.to_array([i for i in broken.graph.initializer if i.name == name][0])
    _set_init(broken, name, np.nextafter(old, np.float32(1)).astype(np.float32))  # one ulp
    issues = _issues(model, broken)
    assert any(i.kind == "qparams" and i.tensor == "masker.blocks.0.dw_conv.out_quant" for i in issues)


def test_altered_zero_point_is_reported(exported):
    model, proto = exported
    broken = _copy(proto)
    _set_init(broken, "enc_act.out_quant.zero_point", np.array(5, np.int8))
    issues = {i.tensor: str(i) for i in _issues(model, broken)}
    assert "enc_act.out_quant" in issues
    assert "apply_masks.tf_rep" in issues  # DQ -> Unsqueeze -> Q no longer keeps the parameters


@pytest.mark.parametrize("tensor", ["masker.bottleneck.weight", "masker.norm.gamma"])
def test_altered_weight_scale_is_reported(exported, tensor):
    model, proto = exported
    broken = _copy(proto)
    name = f"{tensor}.scale"
    old = numpy_helper.to_array([i for i in broken.graph.initializer if i.name == name][0])
    _set_init(broken, name, (old * np.float32(1.001)).astype(np.float32))
    issues = [i.tensor for i in _issues(model, broken)]
    assert issues[0] == tensor
    assert issues[1:] in ([], [tensor.replace("weight", "bias")])  # the bias scale is s_in * s_w


def test_bias_scale_must_be_input_times_weight_scale(exported):
    model, proto = exported
    broken = _copy(proto)
    name = "masker.mask_conv.bias.scale"
    old = numpy_helper.to_array([i for i in broken.graph.initializer if i.name == name][0])
    _set_init(broken, name, (old * np.float32(2)).astype(np.float32))
    assert [i.tensor for i in _issues(model, broken)] == ["masker.mask_conv.bias"]


def test_float_weight_without_dq_is_reported(exported):
    model, proto = exported
    broken = _copy(proto)
    (dq,) = [n for n in broken.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "encoder.weight"]
    conv = next(n for n in broken.graph.node if dq.output[0] in n.input)
    broken.graph.initializer.append(numpy_helper.from_array(
        model.encoder.conv.weight.detach().numpy(), "encoder.float_weight"))
    conv.input[1] = "encoder.float_weight"
    broken.graph.node.remove(dq)
    assert any("float constant feeds encoder/Conv" in str(i) for i in _issues(model, broken))


def test_undeclared_int16_tensor_and_island_are_reported(exported):
    model, proto = exported
    broken = _copy(proto)
    for p in broken.metadata_props:
        if p.key == "fqss.int16_tensors":
            p.value = json.dumps([t for t in json.loads(p.value) if t != "masker.norm.q_var"])
        if p.key == "fqss.islands":
            p.value = json.dumps({k: v for k, v in json.loads(p.value).items() if k != "input_splitter"})
    text = [str(i) for i in _issues(model, broken)]
    assert "masker.norm.q_var: int16 tensor outside the declared int16 islands" in text
    assert any(t.startswith("mixture: graph input feeds input_splitter/hi/Mul") for t in text)


def test_verify_raises_one_line_then_the_list(exported):
    model, proto = exported
    broken = _copy(proto)
    _remove_q(broken, "masker.blocks.0.in_conv.out_quant")
    _set_init(broken, "masker.blocks.0.act1.out_quant.zero_point", np.array(5, np.int8))
    with pytest.raises(FqssError) as e:
        verify_qdq_graph(broken, expected_from_model(model), label="model.onnx")
    first, *rest = str(e.value).splitlines()
    assert first == ("model.onnx: QDQ contract violated: 1 unquantized tensor(s), "
                     "2 scale/zero point problem(s) vs the checkpoint")
    assert len(rest) == 3 and all(r.startswith("  - ") for r in rest)


def test_quantizer_missing_from_the_graph_is_reported(exported):
    model, proto = exported
    broken = _copy(proto)
    # bypass the requantization int8 -> int16 of the first gLN: its readers take the int8 tensor's DQ instead
    g = broken.graph
    (q,) = [n for n in g.node if n.op_type == "QuantizeLinear" and n.output[0] == "masker.norm.q_centered_wide"]
    src_dq = next(n for n in g.node if n.output[0] == q.input[0])
    for n in [n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0]]:
        n.input[0], n.input[1], n.input[2] = src_dq.input[0], src_dq.input[1], src_dq.input[2]
    g.node.remove(q)
    g.node.remove(src_dq)
    issues = {i.tensor: str(i) for i in _issues(model, broken)}
    assert "has no QuantizeLinear in the graph" in issues["masker.norm.q_centered_wide"]


def test_planned_int4_weights_and_int16_tensors_are_declared_and_checked():
    plan = {"masker.blocks.0.in_conv": {"weight_bits": 4}, "masker.mask_conv": {"act_bits": 16}}
    model = calibrated_random_model(TINY_MODEL, {**FQSS_QUANT, "plan": plan})
    proto = build_onnx(model)
    assert _issues(model, proto) == []
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["fqss.int4_weights"]) == ["masker.blocks.0.in_conv.weight"]
    assert "masker.mask_conv.out_quant" in json.loads(meta["fqss.int16_tensors"])
    codes = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}["masker.blocks.0.in_conv.weight"]
    assert codes.dtype == np.int8 and codes.min() >= -7 and codes.max() <= 7
    broken = _copy(proto)  # an int8 weight declared int4
    for p in broken.metadata_props:
        if p.key == "fqss.int4_weights":
            p.value = json.dumps(["masker.blocks.0.in_conv.weight", "masker.bottleneck.weight"])
    text = [str(i) for i in check_qdq_graph(broken)]
    assert any(t.startswith("masker.bottleneck.weight: declared int4 weight has codes in [") for t in text), text
