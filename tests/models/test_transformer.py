"""The quantized transformer encoder (``fqss_edge.models.transformer``) end to end: a small network with one
encoder layer exports without export code of its own to a QDQ graph that passes the verifier, onnxruntime
computes the simulation's codes, and in its fully integer .tflite the integer reference equals LiteRT
BUILTIN_REF on every tensor (BATCH_MATMUL, SOFTMAX, the LayerNorm's MEAN / RSQRT, TRANSPOSE ...)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from litert_ref import reference_equals_litert_ref
from torch import nn

from fqss_edge.export.onnx.expected import expected_from_model
from fqss_edge.export.onnx.exporter import check_onnx, graph_io, make_model, write_graph
from fqss_edge.export.onnx.metadata import island_props
from fqss_edge.export.onnx.verify import check_qdq_graph
from fqss_edge.export.tflite import convert_model
from fqss_edge.models.transformer import QTransformerEncoder
from fqss_edge.quant.layers import InputQuant, QConv1d, QConvTranspose1d
from fqss_edge.quant.spec import QuantSpec
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=2)
STRIDE = 4


class TinyTransformerNet(nn.Module):
    """Strided conv encoder -> one pre-LN transformer layer (+ final LayerNorm) -> transposed conv decoder."""

    def __init__(self, d_model: int = 8, n_heads: int = 2, d_ffn: int = 16):
        super().__init__()
        self.input = InputQuant(SPEC)
        self.encoder = QConv1d(1, d_model, 8, STRIDE, padding=2, bias=False, spec=SPEC)
        self.transformer = QTransformerEncoder(1, d_model, n_heads, d_ffn, SPEC)
        self.decoder = QConvTranspose1d(d_model, 1, 8, STRIDE, padding=2, spec=SPEC)

    def valid_length(self, n: int) -> int:
        return -(-max(n, 16) // STRIDE) * STRIDE

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transformer(self.encoder(self.input(wav)))).value


def _model() -> TinyTransformerNet:
    torch.manual_seed(0)
    model = TinyTransformerNet()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad(), observation(model):
        for _ in range(2):
            model.forward_core(torch.rand(1, 1, 200, generator=g) * 1.8 - 0.9)
    return model.eval()


@pytest.fixture(scope="module")
def exported():
    model = _model()
    b, n_src = write_graph(model, quantized=True)
    proto = check_onnx(make_model(b, *graph_io(n_src), island_props(b)), "transformer")
    return model, proto


def test_transformer_exports_a_verified_qdq_graph(exported):
    model, proto = exported
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("MatMul") == 2 and ops.count("Softmax") == 1 and "Transpose" in ops


@pytest.mark.parametrize("t", [96, 160])
def test_onnxruntime_computes_the_simulation(exported, t):
    model, proto = exported
    x = (torch.rand(1, 1, t, generator=torch.Generator().manual_seed(t)) * 1.8 - 0.9)
    with torch.no_grad():
        y = model.forward_core(x).numpy()
    scale = model.decoder.out_quant.export_qparams()[0]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"mixture": x.numpy()})[0].reshape(y.shape)
    d = np.abs(np.round((got.astype(np.float64) - y) / scale))
    assert d.max() <= 1, f"T={t}: onnxruntime off by up to {d.max()} LSB ({(d > 0).mean():.2%} of values)"


def test_integer_reference_equals_litert_ref_on_every_tensor(exported):
    _, proto = exported
    buf, _ = convert_model(proto, io="int16")
    pcm = np.clip(np.random.default_rng(3).normal(0, 6000, (1, 128)), -32768, 32767).astype(np.int16)
    compared, ops = reference_equals_litert_ref(buf, pcm)
    assert {"BATCH_MATMUL", "SOFTMAX", "MEAN", "RSQRT"} <= ops
    assert any("softmax" in n for n in compared) and any("scores" in n for n in compared)
