"""The graph is traced from the model's own ``forward_core``: a model made of quantized layers needs no export code.
Unsupported operations between layers and shapes that follow the input length in more than one dimension fail
loudly, naming the operation and where it ran."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.exporter import check_onnx, graph_io, make_model, write_graph
from fqss_edge.export.onnx.expected import expected_from_model
from fqss_edge.export.onnx.metadata import island_props
from fqss_edge.export.onnx.registry import registration
from fqss_edge.export.onnx.verify import check_qdq_graph
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, calibrated_random_model
from fqss_edge.quant.layers import InputQuant, QConv1d, QConvTranspose1d, QReLU
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.spec import QuantSpec
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=2)
LEVELS = {"opt-off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "opt-all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}


class Halves(nn.Module):
    """Strided conv [1, 8, F] -> view as [2, 4, F] (two sources as the batch) -> ReLU on [2, F, 4] (transposed
    there and back) -> transposed conv [2, 1, T] -> view [1, 2, T]. No emitter, no export code."""

    def __init__(self, spec: QuantSpec = SPEC):
        super().__init__()
        self.spec = spec
        self.input = InputQuant(spec)
        self.encoder = QConv1d(1, 8, 8, 4, bias=False, spec=spec)
        self.act = QReLU(spec)
        self.decoder = QConvTranspose1d(4, 1, 8, 4, spec=spec)

    def valid_length(self, n: int) -> int:
        return -(-max(n, 8) // 4) * 4

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        b, t = wav.shape[0], wav.shape[-1]
        h = self.encoder(self.input(wav))
        halves = h.with_value(h.value.view(b * 2, 4, -1))
        tf = self.act(halves.with_value(halves.value.transpose(1, 2)))
        back = tf.with_value(tf.value.transpose(1, 2))
        return self.decoder(back).value.view(b, 2, t)


class Flip(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = QReLU(SPEC)

    def forward(self, x: QTensor) -> QTensor:
        return self.act(x.with_value(x.value.flip(-1)))


class Flipping(Halves):
    """A torch operation between layers that has no ONNX lowering."""

    def __init__(self):
        super().__init__()
        self.block = Flip()

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        return self.block(self.input(wav)).value


class Square(Halves):
    """Views [1, 1, T] as [1, sqrt(T), sqrt(T)]: two dimensions follow the length."""

    def valid_length(self, n: int) -> int:
        return (math.isqrt(max(n, 16) - 1) + 1) ** 2  # the next square

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        t = wav.shape[-1]
        x = self.input(wav)
        sq = self.act(x.with_value(x.value.view(1, math.isqrt(t), -1)))
        return sq.value.view(1, 1, t)


class Branching(Halves):
    """Runs another operation at another length."""

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.input(wav)
        if wav.shape[-1] > 32:
            x = x.with_value(x.value.unsqueeze(0).squeeze(0))
        return self.act(x).value


class Weights(Halves):
    """Feeds a parameter, not a tensor computed from the input, to a layer."""

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        return self.act(QTensor(self.encoder.conv.weight.view(1, 1, -1))).value


class Relabelled(Halves):
    """Gives a layer the encoder output with the input's scale and zero point: not something a graph computes."""

    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.input(wav)
        h = self.encoder(x)
        y = self.act(QTensor(h.value.view(2, 4, -1), x.scale, x.zero_point, x.bits))
        return self.decoder(y).value.view(1, 2, wav.shape[-1])


def _calibrated(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad(), observation(model):
        for _ in range(2):
            model.forward_core(torch.rand(1, 1, 400, generator=g) * 1.8 - 0.9)
    return model.eval()


def _export(model: nn.Module):
    b, n_src = write_graph(model, quantized=True)
    return check_onnx(make_model(b, *graph_io(n_src), island_props(b)), "traced")


def _ort_codes(proto, x: np.ndarray, level: ort.GraphOptimizationLevel, scale: float) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return np.round(sess.run(None, {"mixture": x})[0].astype(np.float64) / scale).astype(np.int64)


@pytest.mark.parametrize("level", list(LEVELS.values()), ids=list(LEVELS))
def test_model_without_export_code_runs_in_onnxruntime_with_the_simulation_codes(level):
    torch.manual_seed(0)
    model = _calibrated(Halves())
    proto = _export(model)
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    q_outputs = {n.output[0] for n in proto.graph.node if n.op_type == "QuantizeLinear"}
    assert {"forward_core.h", "forward_core.halves", "forward_core.tf", "decoder.out_quant.reshaped"} <= q_outputs
    ops = [n.op_type for n in proto.graph.node if n.op_type in ("Reshape", "Transpose")]
    assert ops == ["Reshape", "Transpose", "Transpose", "Reshape"]
    scale = model.decoder.out_quant.export_qparams()[0]
    for t in (200, 1000):  # the time axis is dynamic
        x = (torch.rand(1, 1, t) * 1.8 - 0.9).numpy()
        with torch.no_grad():
            y = model.forward_core(torch.from_numpy(x))
        want = np.round(y.numpy().astype(np.float64) / scale).astype(np.int64)
        got = _ort_codes(proto, x, level, scale)
        assert got.shape == (1, 2, t) and np.array_equal(got, want), f"T={t}: {np.abs(got - want).max()} codes off"


def test_unsupported_operation_names_the_op_and_where_it_ran():
    model = _calibrated(Flipping())
    with pytest.raises(FqssError, match=r"torch operation 'flip' between quantized layers, in Flip\.forward "
                                        r"\(block, .*test_trace\.py:\d+\), is not supported"):
        _export(model)


@pytest.mark.parametrize("case,message", [
    (Square, (r"Reshape in Square\.forward_core \(the model, .*\) depends on the input length \(\[1, 8, 8\] at "
              r"T=64, \[1, 9, 9\] at T=81\); only one dimension")),
    (Branching, r"forward_core runs different operations at T=32 and T=36"),
], ids=["two-dims-follow-T", "other-ops-at-other-T"])
def test_length_dependent_graph_fails_loudly(case, message):
    model = _calibrated(case())
    with pytest.raises(FqssError, match=message):
        _export(model)


def test_tensor_from_outside_the_traced_graph_fails_loudly():
    with pytest.raises(FqssError, match=r"'view' in Weights\.forward_core .* is not computed from the model input"):
        _export(Weights())


def test_qtensor_rebuilt_with_other_parameters_fails_loudly():
    with pytest.raises(FqssError, match=r"input 0 of act carries scale/zero point .* but the tensor "
                                        r"forward_core\.h it is computed from has"):
        _export(_calibrated(Relabelled()))


def test_convtasnet_has_no_emitter_of_its_own():
    """The model and its blocks are traversed; only the quantized layers are leaves."""
    model = calibrated_random_model(TINY_MODEL, FQSS_QUANT)
    own = [m for m in model.modules() if type(m).__module__.startswith("fqss_edge.models")]
    assert own and [type(m).__name__ for m in own if registration(m) is not None] == []
