"""The fully integer UNIDIRECTIONAL_SEQUENCE_LSTM (``ops/_lstm.py`` writer, ``reference/lstm.py`` kernel): the
integer reference equals LiteRT BUILTIN_REF exactly on every tensor, the LSTM's output over all time steps
included, over random integer weights, scales, zero points, sizes, sequence lengths, cell scales and both
directions (backward: REVERSE_V2 around the operator), batch or time major."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_reference_matches_litert, run_litert
from onnx import TensorProto, helper

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.exporter import check_onnx, make_model
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.metadata import island_props
from fqss_edge.export.onnx.registry import emit
from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.builder import ModelBuilder, Quant
from fqss_edge.export.tflite.ops._lstm import write_lstm
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.quant.layers import QLSTM
from fqss_edge.quant.layers.lstm import LstmCodes


def random_codes(rng: np.random.Generator, n_input: int, hidden: int, cell_log2: int) -> LstmCodes:
    def scales() -> tuple[float, ...]:
        return tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.02, 4))

    return LstmCodes(rng.integers(-127, 128, (4, hidden, n_input)).astype(np.int8), scales(),
                     rng.integers(-127, 128, (4, hidden, hidden)).astype(np.int8), scales(),
                     rng.integers(-20000, 20000, (4, hidden)).astype(np.int32), cell_log2)


def lstm_model(rng: np.random.Generator, shape: tuple[int, int, int], hidden: int, cell_log2: int, reverse: bool,
               time_major: bool = False) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", shape, np.int8, Quant.make(float(rng.uniform(0.005, 0.1)), int(rng.integers(-20, 20))))
    state = Quant.make(float(rng.uniform(0.003, 0.02)), int(rng.integers(-10, 10)))
    y = write_lstm(b, x, random_codes(rng, shape[2], hidden, cell_log2), state, "lstm", reverse, time_major)
    return b.build([x], [y])


# (batch, time, n_input), hidden, cell scale 2^cell_log2: the kernel's whole cell range, 1 to 64 steps
CASES = [((1, 1, 3), 4, -15), ((2, 17, 5), 6, -12), ((3, 64, 16), 20, -9), ((1, 40, 33), 7, -11),
         ((2, 9, 1), 31, -13)]


@pytest.mark.parametrize("time_major", [False, True], ids=["batch_major", "time_major"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("shape,hidden,cell_log2", CASES, ids=[f"{s}-h{h}-c{c}" for s, h, c in CASES])
def test_reference_equals_litert_ref(shape, hidden, cell_log2, reverse, time_major):
    rng = np.random.default_rng(abs(hash((shape, hidden, cell_log2, reverse, time_major))) % 2**32)
    buf = lstm_model(rng, shape, hidden, cell_log2, reverse, time_major)
    for seed in range(3):
        x = np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)
        assert assert_reference_matches_litert(buf, x) >= 2
        y = ReferenceModel(buf).run(x)
        assert y.shape == shape[:2] + (hidden,)  # time and batch in the input's order
        assert len(np.unique(y)) > 1 or shape[1] == 1  # the test inputs do move the hidden state


def test_optimized_kernels_equal_the_reference():
    """BUILTIN (optimized kernels) and AUTO (XNNPACK, which does not take the LSTM) give the same codes."""
    rng = np.random.default_rng(5)
    buf = lstm_model(rng, (2, 30, 12), 16, -11, False)
    x = rng.integers(-128, 128, (2, 30, 12)).astype(np.int8)
    want = ReferenceModel(buf).run(x)
    for kernel in ("builtin", "xnnpack"):
        assert np.array_equal(run_litert(buf, x, kernel), want), kernel


@pytest.mark.parametrize("cell_log2", [-16, -8])
def test_cell_scale_outside_the_kernels_tanh_range_is_refused(cell_log2):
    rng = np.random.default_rng(0)
    with pytest.raises(FqssError, match="cell state scale"):
        lstm_model(rng, (1, 4, 3), 4, cell_log2, False)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_qlstm_export_equals_the_simulation(bidirectional, batch):
    """QLSTM -> its QDQ ONNX -> .tflite: LiteRT REF == the integer reference on every tensor, and the output ==
    the PyTorch simulation code for code (the layout moves and both directions included)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "onnx"))
    from test_layers import SPEC, OneLayer, _calibrated, _inputs

    torch.manual_seed(batch)
    shape = (24, batch, 8)
    model = _calibrated(OneLayer(QLSTM(8, 12, bidirectional, SPEC), [shape]))
    b = GraphBuilder(True, module_names={id(m): n for n, m in model.named_modules()})
    out = emit(b, model.layer, "layer", emit(b, model.inputs[0], "inputs.0", TensorRef("mixture")))
    b.node("DequantizeLinear", [out.name, f"{out.name}.scale", f"{out.name}.zero_point"], "out", output="sources")
    out_shape = [24, batch, 24 if bidirectional else 12]
    proto = make_model(b, [helper.make_tensor_value_info("mixture", TensorProto.FLOAT, list(shape))],
                       [helper.make_tensor_value_info("sources", TensorProto.FLOAT, out_shape)], island_props(b))
    buf, _ = convert_model(check_onnx(proto, "lstm"), io="quantized")
    ref = ReferenceModel(buf)
    assert ref.op_names().count("UNIDIRECTIONAL_SEQUENCE_LSTM") == (2 if bidirectional else 1)
    for seed in range(2):
        x = _inputs([shape], seed)[0]
        with torch.no_grad():
            want = model(x).int_repr().numpy()
        codes = model.inputs[0](x).int_repr().numpy().astype(np.int8)
        assert assert_reference_matches_litert(buf, codes) >= 4
        assert np.array_equal(run_litert(buf, codes).reshape(want.shape), want)


def test_litert_keeps_the_state_between_invocations_and_the_backend_resets_it():
    """The output and cell states are variable tensors: a second invoke continues from the first one's final
    state unless they are reset; the LiteRT backend resets them before every call (independent segments)."""
    from ai_edge_litert.interpreter import Interpreter

    from fqss_edge.runtimes.litert_backend import LiteRtBackend

    rng = np.random.default_rng(9)
    buf = lstm_model(rng, (1, 12, 5), 6, -12, False)
    x = rng.integers(-128, 128, (1, 12, 5)).astype(np.int8)
    it = Interpreter(model_content=buf, num_threads=1)
    it.allocate_tensors()
    runs = []
    for _ in range(2):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        runs.append(it.get_tensor(it.get_output_details()[0]["index"]).copy())
    assert np.array_equal(runs[0], ReferenceModel(buf).run(x)) and not np.array_equal(runs[0], runs[1])
    backend = LiteRtBackend("ref")
    backend._it = Interpreter(model_content=buf, num_threads=1)
    backend._it.allocate_tensors()
    backend._length = x.shape[-1]
    assert np.array_equal(backend._invoke(x), runs[0]) and np.array_equal(backend._invoke(x), runs[0])
