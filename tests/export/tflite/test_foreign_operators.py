"""The foreign-graph operators (``op_cases_foreign.py``) on the QDQ graph onnxruntime's ``quantize_static`` makes of
a torch model using them together (per-channel QInt8 weights, QInt8 activations): the graph holds the patterns the
one-node cases build by hand, the integer reference == LiteRT REF on every tensor, and the output is within 1 LSB
of onnxruntime's."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_reference_matches_litert, run_litert, run_ort
from onnx import numpy_helper

from fqss_edge.export.tflite import convert_model

T = 64


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.grouped = torch.nn.Conv1d(4, 8, 3, padding=1, groups=2)
        self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")
        self.deconv = torch.nn.ConvTranspose1d(8, 8, 4, stride=2, padding=1)
        self.deconv_op = torch.nn.ConvTranspose1d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.linear = torch.nn.Linear(6, 6)
        self.head = torch.nn.Conv1d(6, 4, 1)

    def forward(self, x):
        y = F.relu6(self.grouped(x))
        y = self.up(y)[..., ::2]
        y = self.deconv(y[..., 2:])
        y = F.interpolate(y, scale_factor=0.5, mode="linear")
        y = self.deconv_op(y)
        z = self.linear(y.transpose(1, 2)).transpose(1, 2)
        y = y * z.mean(dim=2, keepdim=True) + torch.softmax(z, dim=2)
        return F.hardtanh(self.head(torch.tanh(y)))


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    tmp = tmp_path_factory.mktemp("foreign")
    torch.manual_seed(0)
    with warnings.catch_warnings():  # the legacy exporter is deprecated (it keeps the graph as the model reads)
        warnings.simplefilter("ignore")
        torch.onnx.export(Mixed().eval(), (torch.randn(1, 4, T),), tmp / "f.onnx", input_names=["mixture"],
                          output_names=["sources"], dynamo=False, opset_version=17)
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"mixture": rng.standard_normal((1, 4, T)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(tmp / "f.onnx", tmp / "q.onnx", Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return onnx.load(tmp / "q.onnx")


def test_quantize_static_graph_holds_the_foreign_patterns(quantized):
    g = quantized.graph
    ops = {n.op_type for n in g.node}
    assert {"MatMul", "Resize", "Softmax", "Tanh", "ConvTranspose", "Slice", "Transpose"} <= ops, ops
    assert any(n.op_type == "Conv" and any(a.name == "group" and a.i == 2 for a in n.attribute) for n in g.node)
    assert any(n.op_type == "ConvTranspose" and any(a.name == "output_padding" and list(a.ints) == [1]
                                                    for a in n.attribute) for n in g.node)


def test_quantize_static_graph_matches_onnxruntime(quantized):
    buf, _ = convert_model(quantized, io="quantized", length=T)
    init = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    q_in = next(n for n in quantized.graph.node if n.input and n.input[0] == "mixture")  # the input's Q
    dq_out = next(n for n in quantized.graph.node if n.output[0] == "sources")  # the output's DequantizeLinear
    assert (q_in.op_type, dq_out.op_type) == ("QuantizeLinear", "DequantizeLinear")
    s_in, z_in = float(init[q_in.input[1]]), int(init[q_in.input[2]])
    s_out, z_out = float(init[dq_out.input[1]]), int(init[dq_out.input[2]])
    for seed in range(3):
        codes = np.random.default_rng(seed).integers(-128, 128, (1, 4, T)).astype(np.int8)
        assert assert_reference_matches_litert(buf, codes) > 20
        x = ((codes.astype(np.float32) - np.float32(z_in)) * np.float32(s_in)).astype(np.float32)
        want = np.round(run_ort(quantized, {"mixture": x}) / s_out) + z_out
        got = run_litert(buf, codes, "ref").astype(np.int64)
        assert np.abs(got.reshape(-1) - want.reshape(-1)).max() <= 1, f"seed {seed}"
