"""QLSTM through its ONNX emitter: the QDQ verifier is clean, onnxruntime's float LSTM between DQ and Q is within
1 LSB of the simulation's integer LSTM, the onnxruntime flavour's integer LSTM equals it exactly, and the float
graph is torch.nn.LSTM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the one-layer helpers (tests use --import-mode=importlib)

from test_layers import SPEC, OneLayer, _calibrated, _export, _inputs, _run_ort  # noqa: E402

from fqss_edge.export.onnx.expected import expected_from_model  # noqa: E402
from fqss_edge.export.onnx.integer_lstm import integer_lstms  # noqa: E402
from fqss_edge.export.onnx.verify import check_qdq_graph  # noqa: E402
from fqss_edge.quant.layers import QLSTM  # noqa: E402
from fqss_edge.quant.spec import FLOAT  # noqa: E402

LEVELS = [ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL]


@pytest.mark.parametrize("time_steps", [50, 250])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_onnxruntime_within_one_lsb_of_the_simulation(bidirectional, time_steps):
    torch.manual_seed(3)
    shape = (time_steps, 2, 8)
    model = _calibrated(OneLayer(QLSTM(8, 16, bidirectional, SPEC), [shape]))
    proto, _ = _export(model, (time_steps, 2, 16 * (2 if bidirectional else 1)))
    assert check_qdq_graph(proto, expected_from_model(model)) == []
    meta = {p.key: p.value for p in proto.metadata_props}
    cells = json.loads(meta["fqss.lstm_cell_log2"])
    assert len(cells) == (2 if bidirectional else 1) and set(cells.values()) == {model.layer.cell_log2}
    for seed in range(2 if time_steps < 100 else 1):
        x = _inputs([shape], 10 + seed)[0]
        with torch.no_grad():
            sim = model(x).int_repr().numpy()
        for level in LEVELS:
            got = _run_ort(proto, {"x0": x.numpy()}, level)
            diff = np.abs(got.astype(np.int64) - sim)
            assert diff.max() <= 1, f"{diff.max()} LSB at {np.unravel_index(diff.argmax(), diff.shape)}"
            assert (diff > 0).mean() < 0.15  # measured 4-6 %: the float LSTM rounds only its output


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_onnxruntime_flavour_computes_the_integer_lstm_exactly(bidirectional):
    torch.manual_seed(4)
    shape = (60, 3, 8)
    model = _calibrated(OneLayer(QLSTM(8, 16, bidirectional, SPEC), [shape]))
    proto, _ = _export(model, (60, 3, 16 * (2 if bidirectional else 1)))
    assert integer_lstms(proto) == (2 if bidirectional else 1)  # the onnxruntime flavour's step
    ops = [n.op_type for n in proto.graph.node]
    assert "LSTM" not in ops and ops.count("Scan") == (2 if bidirectional else 1)
    for seed in range(2):
        x = _inputs([shape], 20 + seed)[0]
        with torch.no_grad():
            sim = model(x).int_repr().numpy()
        for level in LEVELS:
            got = _run_ort(proto, {"x0": x.numpy()}, level).astype(np.int64)
            assert np.array_equal(got, sim), f"{np.abs(got - sim).max()} LSB"


def test_float_graph_is_torch_lstm():
    torch.manual_seed(0)
    layer = QLSTM(6, 5, True, FLOAT)
    from fqss_edge.export.onnx.exporter import check_onnx, make_model
    from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
    from fqss_edge.export.onnx.metadata import island_props
    from fqss_edge.export.onnx.registry import emit
    from onnx import TensorProto, helper

    b = GraphBuilder(False, module_names={id(layer): "lstm"})
    out = emit(b, layer, "lstm", TensorRef("x0"))
    proto = check_onnx(make_model(b, [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [9, 2, 6])],
                                  [helper.make_tensor_value_info(out.name, TensorProto.FLOAT, [9, 2, 10])],
                                  island_props(b)), "lstm")
    x = torch.randn(9, 2, 6)
    with torch.no_grad():
        want = layer.lstm(x)[0].numpy()
    got = _run_ort(proto, {"x0": x.numpy()}, LEVELS[0])
    assert np.abs(got - want).max() < 1e-5
