"""The float32 converter of every operator (``export/tflite/ops_float/``), on the float twins of its one-node
cases (``op_cases.CASES``: the case's graph with its Q/DQ pairs removed) and on the float-only cases.

Each graph is converted to a float32 .tflite and LiteRT (REF, builtin, XNNPACK) is compared with onnxruntime on
the same input within a tight relative tolerance; XNNPACK must take the whole graph in one partition. A case
with ``lengths`` is also exported with a symbolic length and run at each of them. Float32 files are not run by
the integer reference interpreter: float kernels are not reproducible bit for bit (accumulation order, libm).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_litert, run_ort
from op_cases import float_params
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.registry import FLOAT32
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

RTOL = 1e-5  # of the output's largest magnitude


def _compare(name: str, buf: bytes, model, x: np.ndarray, kernels=("ref", "builtin", "xnnpack")) -> None:
    want = run_ort(model, {"mixture": x}).astype(np.float64).reshape(-1)
    scale = max(float(np.abs(want).max()), 1e-6)
    feed = x.reshape(1, -1) if x.shape[:2] == (1, 1) else x
    for kernel in kernels:
        got = run_litert(buf, feed, kernel).astype(np.float64)
        assert got.size == want.size, f"{name} {kernel}: {got.shape} vs {want.size} values"
        err = float(np.abs(got.reshape(-1) - want).max()) / scale
        assert err <= RTOL, f"{name} {kernel}: output differs from onnxruntime by {err:.2e} (relative, input {x.shape})"


def _input(model, t: int, seed: int, positive: bool) -> np.ndarray:
    channels = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    x = np.random.default_rng(seed).uniform(-0.9, 0.9, (1, channels, t)).astype(np.float32)
    return np.abs(x) + np.float32(0.01) if positive else x


@pytest.mark.parametrize("op,case,resizable", float_params())
def test_float_operator_matches_onnxruntime(op, case, resizable, tmp_path):
    model = case.float_model(resizable)
    buf, meta = convert_model(model)
    assert meta["precision"] == "float32" and meta["io"] == "float32" and not meta["integer_only"]
    if resizable:
        for t in case.lengths:
            _compare(case.name, buf, model, _input(model, t, t, case.positive), kernels=("ref", "xnnpack"))
        return
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = _input(model, shape[-1], 0, case.positive)
    if shape[0] != 1 or len(shape) != 3:  # not [1, C, T]: time-major [T, B, C] (LSTM), [B, K] (Linear), rank 4
        x = np.random.default_rng(0).uniform(-0.9, 0.9, shape).astype(np.float32)
    _compare(case.name, buf, model, x)
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    if case.delegated:
        assert d["partitions"] == 1 and d["delegated"] == d["operators"], f"{case.name}: XNNPACK {d}"
    else:
        assert d["delegated"] < d["operators"], f"{case.name}: XNNPACK now takes it all {d}: update the case"


def test_float_registry_is_separate_and_strict():
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.builder import BuiltinOperator as B
    from fqss_edge.export.tflite.registry import INT8

    with pytest.raises(ValueError, match=r"\(float32\) for Relu is already registered"):
        FLOAT32.register("Relu", writes=(B.RELU,))(lambda ctx, node: None)
    with pytest.raises(FqssError, match="node 'n1' \\(op type Erf\\) has no float32 converter"):
        FLOAT32.lookup("Erf", "n1")
    assert "Floor" in FLOAT32.supported() and "Floor" not in INT8.supported()  # no cross-registry fallback
    assert "QuantizeLinear" in INT8.supported() and "QuantizeLinear" not in FLOAT32.supported()


def test_qdq_graph_is_not_taken_by_the_float_converter():
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.float_converter import convert_float_graph

    b = QDQ(channels=2, length=16)
    b.output(b.op("Relu", [b.dq(b.input(0.05, 0))], (0.05, -128)))
    with pytest.raises(FqssError, match="QDQ graph goes to the integer converter"):
        convert_float_graph(b.model())
    with pytest.raises(FqssError, match="precision float32 was asked but the ONNX model is a QDQ graph"):
        convert_model(b.model(), precision="float32")
