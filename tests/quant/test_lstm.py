"""QLSTM: float mode is torch.nn.LSTM; quantized, the simulation equals the integer reference kernel (and so
LiteRT, ``tests/export/tflite/test_lstm.py``) code for code, with gradients for QAT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant
from fqss_edge.export.tflite.ops._lstm import write_lstm
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.quant import QuantSpec
from fqss_edge.quant.gemmlowp16 import sigmoid_table, tanh_table
from fqss_edge.quant.layers.lstm import QLSTM, cell_log2_for
from fqss_edge.quant.quantizers import FixedQuantizer
from fqss_edge.quant.spec import FLOAT

X_SCALE, X_ZP = 0.02, 5


def calibrated(bidirectional: bool, seed: int, n_input: int = 8, hidden: int = 12, gain: float = 1.0) -> QLSTM:
    torch.manual_seed(seed)
    m = QLSTM(n_input, hidden, bidirectional, QuantSpec(calib_batches=1))
    with torch.no_grad():
        for p in m.lstm.parameters():
            p.mul_(gain)
    m.train()
    m(_input(seed, n_input))
    return m.eval()


def _input(seed: int, n_input: int, shape: tuple[int, int] = (25, 3)) -> object:
    """(time, batch, n_input), quantized."""
    g = torch.Generator().manual_seed(seed)
    return FixedQuantizer(X_SCALE, X_ZP)(torch.randn(*shape, n_input, generator=g) * 0.8)


def tflite_of(m: QLSTM, shape: tuple[int, int, int]) -> bytes:
    """The layer as TFLite: one UNIDIRECTIONAL_SEQUENCE_LSTM per direction (+ REVERSE_V2, CONCATENATION)."""
    s_h, z_h = m.out_quant.export_qparams()
    b = ModelBuilder()
    x = b.tensor("x", shape, np.int8, Quant.make(X_SCALE, X_ZP))
    outs = [write_lstm(b, x, c, Quant.make(s_h, z_h), f"lstm{d}", reverse=d == 1, time_major=True)
            for d, c in enumerate(m.export(X_SCALE))]
    if len(outs) == 1:
        return b.build([x], outs)
    y = b.tensor("y", shape[:2] + (2 * m.hidden_size,), np.int8, Quant.make(s_h, z_h))
    opts = schema.ConcatenationOptionsT()
    opts.axis = 2
    b.op(B.CONCATENATION, outs, [y], opts)
    return b.build([x], [y])


def test_float_mode_is_torch_lstm():
    torch.manual_seed(0)
    m = QLSTM(5, 7, True, FLOAT)
    ref = torch.nn.LSTM(5, 7, bidirectional=True)
    ref.load_state_dict(m.lstm.state_dict())
    x = torch.randn(11, 2, 5)
    assert torch.equal(m(FixedQuantizer(1.0, 0, enabled=False)(x)).value, ref(x)[0])


@pytest.mark.parametrize("gain", [1.0, 3.0], ids=["gain1", "gain3"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_simulation_equals_reference_kernel(bidirectional, gain):
    m = calibrated(bidirectional, seed=int(gain) + 2 * bidirectional, gain=gain)
    for seed in range(3):
        x = _input(100 + seed, 8, (31, 2))
        with torch.no_grad():
            y = m(x)
        codes = y.int_repr().numpy()
        ref = ReferenceModel(tflite_of(m, (31, 2, 8))).run(x.int_repr().numpy().astype(np.int8))
        assert ref.shape == codes.shape
        diff = np.argwhere(ref != codes)
        assert diff.size == 0, f"{len(diff)} codes differ, first at {diff[0].tolist()}"
        assert len(np.unique(codes)) > 20  # a real range of outputs, not a saturated or constant one


def test_training_forward_has_the_integer_values_and_gradients():
    m = calibrated(True, seed=7)
    x = _input(3, 8)
    with torch.no_grad():
        want = m(x).value
    m.train()
    y = m(x)
    assert torch.equal(y.value.detach(), want)
    (y.value * torch.linspace(-1, 1, y.value.shape[-1])).sum().backward()
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "weight_hh_l0_reverse"):
        g = getattr(m.lstm, name).grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name
    assert m.out_quant.hi.grad is not None and m.weight_quant[5].max_abs.grad is not None


def test_cell_scale_rule():
    # TensorFlow's GetPowerOfTwoScale over 32768, kept inside the kernel's [2^-15, 2^-9]
    assert [cell_log2_for(v) for v in (0.3, 1.0, 1.01, 3.9, 40.0, 64.0, 1000.0)] == [-15, -15, -14, -13, -9, -9, -9]


def test_weights_must_be_int8():
    with pytest.raises(ValueError, match="int8 weights"):
        QLSTM(4, 4, spec=QuantSpec(weight_bits=4))


def test_integer_gates_follow_the_float_functions():
    """The gemmlowp tables are within 4e-4 of the float functions (their exactness: the LiteRT tests)."""
    x = np.arange(-32768, 32768)
    assert np.abs(sigmoid_table() / 32768 - 1 / (1 + np.exp(-x / 4096))).max() < 4e-4
    for bits in range(7):
        assert np.abs(tanh_table(bits) / 32768 - np.tanh(x * 2.0 ** (bits - 15))).max() < 4e-4
    with pytest.raises(ValueError):
        tanh_table(7)
