"""The quantized transformer encoder (``fqss_edge.models.transformer``) and the dual-path machinery
(``fqss_edge.models.dualpath``) end to end: small networks built from them export without export code of their
own to a QDQ graph that passes the verifier, onnxruntime computes the simulation's codes, and in their fully
integer .tflite the integer reference equals LiteRT BUILTIN_REF on every tensor (BATCH_MATMUL, SOFTMAX, the
LayerNorm's MEAN / RSQRT, TRANSPOSE, PAD, STRIDED_SLICE, CONCATENATION ...)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from fqss_edge.export.onnx.expected import expected_from_model
from fqss_edge.export.onnx.exporter import check_onnx, graph_io, make_model, write_graph
from fqss_edge.export.onnx.metadata import island_props
from fqss_edge.export.onnx.verify import check_qdq_graph
from fqss_edge.export.tflite import convert_model
from fqss_edge.models.dualpath import DualPathBlock, OverlapAdd, Segmentation
from fqss_edge.models.transformer import QTransformerEncoder
from fqss_edge.quant.layers import InputQuant, QConv1d, QConvTranspose1d
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import FLOAT, QuantSpec
from fqss_edge.quant.tools import observation

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
from litert_ref import reference_equals_litert_ref  # noqa: E402

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


class TinyDualPathNet(TinyTransformerNet):
    """Encoder -> segmentation (chunks of 4 frames) -> one dual-path block with transformer intra / inter models
    -> overlap-add -> decoder."""

    chunk = 4

    def __init__(self, d_model: int = 8, n_heads: int = 2, d_ffn: int = 16):
        super().__init__(d_model, n_heads, d_ffn)
        del self.transformer  # the dual-path block holds the transformers
        self.segment = Segmentation(self.chunk)
        self.block = DualPathBlock(QTransformerEncoder(1, d_model, n_heads, d_ffn, SPEC),
                                   QTransformerEncoder(1, d_model, n_heads, d_ffn, SPEC), d_model, SPEC)
        self.overlap_add = OverlapAdd(self.chunk, SPEC)

    def valid_length(self, n: int) -> int:
        step = STRIDE * self.chunk
        return -(-max(n, step) // step) * step

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        h = self.overlap_add(self.block(self.segment(self.encoder(self.input(wav)))))
        return self.decoder(h).value


NETS = {"transformer": TinyTransformerNet, "dualpath": TinyDualPathNet}


def _model(net: type[TinyTransformerNet]) -> TinyTransformerNet:
    torch.manual_seed(0)
    model = net()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad(), observation(model):
        for _ in range(2):
            model.forward_core(torch.rand(1, 1, model.valid_length(200), generator=g) * 1.8 - 0.9)
    return model.eval()


@pytest.fixture(scope="module", params=list(NETS))
def exported(request):
    model = _model(NETS[request.param])
    b, n_src = write_graph(model, quantized=True)
    proto = check_onnx(make_model(b, *graph_io(n_src), island_props(b)), "transformer")
    return model, proto


def test_transformer_exports_a_verified_qdq_graph(exported):
    model, proto = exported
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    ops = [n.op_type for n in proto.graph.node]
    n_att = 2 if isinstance(model, TinyDualPathNet) else 1
    assert ops.count("MatMul") == 2 * n_att and ops.count("Softmax") == n_att and "Transpose" in ops


@pytest.mark.parametrize("t", [96, 160])  # multiples of the dual-path net's length step (16)
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


def test_xnnpack_takes_every_batch_matmul(exported, tmp_path):
    """K and V (the right-hand operands in TFLite's layout) are quantized with zero point 0: XNNPACK refuses an
    int8 BATCH_MATMUL with another right-hand zero point and would leave all of them on the builtin kernels."""
    from fqss_edge.runtimes.litert_backend import xnnpack_delegation

    model, proto = exported
    projs = [p for m in model.modules() if hasattr(m, "k_proj") for p in (m.k_proj, m.v_proj)]
    assert projs and all(p.out_quant.export_qparams()[1] == 0 for p in projs)
    buf, _ = convert_model(proto, io="int16")
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    assert "BATCH_MATMUL" not in d["not_delegated"], d


@pytest.mark.parametrize("length", [8, 12, 40])
def test_overlap_add_of_the_segmentation_is_twice_the_input(length):
    """Every frame lies in exactly two chunks: overlap-add(segmentation(x)) == 2 x (float, exact)."""
    x = QTensor(torch.randn(2, 3, length))
    seg = Segmentation(4)
    chunks = seg(x)
    assert chunks.value.shape == (2, 3, 4, 2 * length // 4 + 2)
    assert torch.equal(chunks.value[:, :, :, 1], x.value[:, :, :4])  # chunk 1 starts at frame 0 (chunk 0: P pads)
    assert torch.equal(chunks.value[:, :, :, 2], x.value[:, :, 2:6])  # 50 % overlap
    y = OverlapAdd(4, FLOAT)(chunks)
    assert torch.equal(y.value, 2 * x.value)


@pytest.mark.parametrize("chunk, length", [(4, 8), (4, 40), (6, 12), (100, 200)])
def test_asteroid_padding_is_asteroids_unfold_and_fold(chunk, length):
    """``padding="asteroid"`` gives the chunks of asteroid's DPRNN / DPTNet (``unfold`` with ``padding=K``, hop
    K / 2), and the overlap-add is its ``fold``: exact, float."""
    x = torch.randn(2, 3, length)
    hop = chunk // 2
    want = torch.nn.functional.unfold(x.unsqueeze(-1), (chunk, 1), padding=(chunk, 0), stride=(hop, 1))
    want = want.reshape(2, 3, chunk, -1)
    chunks = Segmentation(chunk, "asteroid")(QTensor(x))
    assert chunks.value.shape == want.shape == (2, 3, chunk, 2 * length // chunk + 3)
    assert torch.equal(chunks.value, want)
    y = torch.randn_like(want)
    folded = torch.nn.functional.fold(y.reshape(2, 3 * chunk, -1), (length, 1), (chunk, 1), padding=(chunk, 0),
                                      stride=(hop, 1)).reshape(2, 3, length)
    assert torch.allclose(OverlapAdd(chunk, FLOAT, "asteroid")(QTensor(y)).value, folded, rtol=0, atol=1e-6)


def test_segmentation_refuses_a_length_off_the_chunk_grid():
    with pytest.raises(ValueError, match="not a multiple of the chunk size 4"):
        Segmentation(4)(QTensor(torch.zeros(1, 3, 10)))
