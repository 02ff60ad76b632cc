"""The int8 LeakyReLU as the simulation computes and the export writes it (``QPReLU``: ``relu(x) + Q_neg(alpha
x)``, QUANTIZE, MUL and ADD in the .tflite) on every input code: the integer reference == LiteRT BUILTIN_REF on
every tensor, the simulation within one code of every runtime and of one rounding of ``leaky_relu(x)``, and XNNPACK
agreeing with the builtin kernels on nearly every code, where TFLite's LEAKY_RELU for the same activation differs
from XNNPACK's on many (the reason for the form)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_reference_matches_litert, run_litert, run_ort
from qdq_builder import QDQ
from test_leaky_relu import INT8, _codes, _ids

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.quant.layers.activations import QPReLU, leaky_parts
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import FixedQuantizer

CASES = INT8 + [(0.05, 3, 0.06, -20, 1.4), (0.05, 3, 0.04, -20, 0.0)]  # and slopes above 1 and of 0


def _parts_model(s_in, z_in, s_out, z_out, alpha):
    """The graph ``export/onnx/emitters/activations.py`` writes for an int8 QPReLU."""
    parts = leaky_parts(s_in, z_in, alpha)
    b = QDQ(channels=1, length=256)
    x = b.input(s_in, z_in)
    pos = b.q(b.dq(x), s_in, -128)
    neg = b.op("Mul", [b.dq(x), b.qconst(np.array([parts.code]), parts.alpha_scale)], (parts.scale, parts.zero_point))
    b.output(b.op("Add", [b.dq(pos), b.dq(neg)], (s_out, z_out)))
    return b.model()


def _leaky_relu_model(s_in, z_in, s_out, z_out, alpha):
    b = QDQ(channels=1, length=256)
    b.output(b.op("LeakyRelu", [b.dq(b.input(s_in, z_in))], (s_out, z_out), alpha=alpha))
    return b.model()


def _simulation(s_in, z_in, s_out, z_out, alpha) -> np.ndarray:
    act = QPReLU(init=alpha, out_quant=FixedQuantizer(s_out, z_out, 8))
    s = torch.tensor(s_in, dtype=torch.float32)
    v = (torch.tensor(_codes(8), dtype=torch.float32) - z_in) * s
    with torch.no_grad():
        y = act(QTensor(v, s, torch.tensor(float(z_in)), 8)).value
    return (torch.round(y / torch.tensor(s_out, dtype=torch.float32)) + z_out).to(torch.int64).numpy()


@pytest.mark.parametrize("params", CASES, ids=_ids)
def test_simulation_is_every_runtime_within_one_code(params):
    buf = convert_model(_parts_model(*params), io="quantized")[0]
    x = _codes(8).reshape(1, 1, -1)
    assert ReferenceModel(buf).op_names()[1:-1] == ["QUANTIZE", "MUL", "ADD"]  # between the layout RESHAPEs
    assert_reference_matches_litert(buf, x)
    sim = _simulation(*params)
    for kernel in ("ref", "builtin", "xnnpack"):
        got = run_litert(buf, x, kernel).reshape(-1).astype(np.int64)
        assert np.abs(got - sim).max() <= 1, kernel
    f = ((x - params[1]).astype(np.float32) * np.float32(params[0]))
    y = run_ort(_parts_model(*params), {"mixture": f}).reshape(-1).astype(np.float64)
    ort = np.clip(np.round(y / np.float64(np.float32(params[2]))) + params[3], -128, 127)
    assert np.abs(ort - sim).max() <= 1
    leaky = np.clip(np.round(np.where(f >= 0, f, np.float32(params[4]) * f) / np.float32(params[2])) + params[3],
                    -128, 127).reshape(-1)
    assert np.abs(sim - leaky).max() <= 1  # one rounding of leaky_relu(x), up to float32 near ties
    assert np.count_nonzero(sim != leaky) <= 2


def test_xnnpack_agrees_with_the_builtin_kernels_where_leaky_relu_does_not():
    x = _codes(8).reshape(1, 1, -1)
    differ = {"parts": 0, "leaky_relu": 0}
    for params in INT8:
        for form, build in (("parts", _parts_model), ("leaky_relu", _leaky_relu_model)):
            buf = convert_model(build(*params), io="quantized")[0]
            differ[form] += int(np.count_nonzero(run_litert(buf, x, "builtin") != run_litert(buf, x, "xnnpack")))
    codes = len(INT8) * x.size
    assert differ["leaky_relu"] > 0.05 * codes, differ  # TFLite rounds twice, XNNPACK once (8-bit multipliers)
    assert differ["parts"] < 0.01 * codes, differ  # 0.6 % measured: the ADD kernels' own fixed point
