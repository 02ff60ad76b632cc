"""LeakyRelu (``ops/leaky_relu.py``) on every input code. TFLite's LEAKY_RELU rounds the negative side twice (a
multiplier s_in alpha / s_out below 1/2: a right shift), a few % of the int8 codes one below a single rounding;
``quantize_leaky_relu`` computes these codes, and so do the integer reference, LiteRT BUILTIN_REF, the builtin
kernels and the int16 simulation (``QPReLU`` looks them up); XNNPACK (its own fixed point) and onnxruntime's QDQ
LeakyRelu (one rounding) are within one code. The int8 simulation is not a LEAKY_RELU
(``tests/export/tflite/test_prelu_int8.py``): these int8 cases are LeakyRelu nodes of other ONNX graphs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import assert_reference_matches_litert, run_litert, run_ort
from qdq_builder import QDQ

from fqss_edge.export.onnx.flavour import onnxruntime_flavour
from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.fixedpoint import quantize_leaky_relu
from fqss_edge.quant.layers.activations import QPReLU
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import FixedQuantizer

# (s_in, z_in, s_out, z_out, alpha): the lightweight Wave-U-Net's first activation (27 codes rounded twice), and
# activations of the real-speech tiny Conv-TasNet FQSS model (runs3: masker.blocks.3.act2, 39 codes; blocks.11.act1,
# a negative slope; blocks.6.act2, a slope of 0.0034; out_act)
INT8 = [(0.02815699391067028, -19, 0.018546374514698982, -95, 0.2),
        (0.05236003175377846, 20, 0.021935639902949333, -128, -0.10968434810638428),
        (0.3013310432434082, -32, 0.1950928270816803, -119, 0.075713612139225),
        (0.3572109341621399, -19, 0.20440512895584106, -128, -0.1259692907333374),
        (0.09913209080696106, -38, 0.06447483599185944, -128, 0.0034256037324666977),
        (0.22678320109844208, 35, 0.08276508748531342, -128, 0.020853009074926376)]


def _leaky_like(n: int):
    """Calibrated-like sets: input range [lo, hi] around 0, output range [alpha lo, hi]."""
    rng = np.random.default_rng(18)
    for _ in range(n):
        lo, hi = -10.0 ** rng.uniform(-2, 1), 10.0 ** rng.uniform(-2, 1)
        alpha = float(np.float32(rng.choice([0.01, 0.1, 0.2, 0.25, rng.uniform(0.02, 0.6)])))
        s_in, s_out = float(np.float32((hi - lo) / 255)), float(np.float32((hi - alpha * lo) / 255))
        yield s_in, round(-128 - lo / s_in), s_out, int(np.clip(round(-128 - alpha * lo / s_out), -128, 127)), alpha


INT8 += list(_leaky_like(8))
INT16 = [(0.0004, 0, 0.00021, 0, 0.2), (0.0011, 0, 0.0009, 0, -0.07)]


def _codes(bits: int) -> np.ndarray:
    """Every code of the simulation's activations (int16: symmetric, no -32768)."""
    half = 2 ** (bits - 1)
    return np.arange(-half + (bits == 16), half)


def _model(s_in, z_in, s_out, z_out, alpha, bits=8):
    b = QDQ(channels=1, length=_codes(bits).size)
    x = b.input(s_in, z_in, bits)
    b.output(b.op("LeakyRelu", [b.dq(x)], (s_out, z_out, bits), alpha=alpha))
    return b.model()


def simulation(s_in, z_in, s_out, z_out, alpha, bits=8) -> np.ndarray:
    """TFLite's LEAKY_RELU codes for every input code at (s_in, z_in) (``quantize_leaky_relu``); int16: also
    QPReLU's (checked here)."""
    half = 2 ** (bits - 1)
    codes = np.clip(quantize_leaky_relu(_codes(bits), s_in, z_in, s_out, z_out, alpha), -half, half - 1)
    if bits == 16:
        act = QPReLU(init=alpha, out_quant=FixedQuantizer(s_out, z_out, bits))
        s = torch.tensor(s_in, dtype=torch.float32)
        v = (torch.tensor(_codes(bits), dtype=torch.float32) - z_in) * s
        with torch.no_grad():
            y = act(QTensor(v, s, torch.tensor(float(z_in)), bits)).value
        sim = (torch.round(y / torch.tensor(s_out, dtype=torch.float32)) + z_out).to(torch.int64).numpy()
        np.testing.assert_array_equal(sim, codes)
    return codes.astype(np.int64)


def one_rounding(s_in, z_in, s_out, z_out, alpha, bits=8) -> np.ndarray:
    """Q(leaky_relu(x)) in float32 with one rounding (what onnxruntime's QDQ LeakyRelu computes)."""
    f = np.float32
    x = (_codes(bits) - z_in).astype(np.float32) * f(s_in)
    y = np.where(x >= 0, x, f(alpha) * x).astype(np.float32)
    half = 2 ** (bits - 1)
    return np.clip(np.round(y / f(s_out)) + z_out, -half, half - 1).astype(np.int64)


def _ort_codes(model, s_in, z_in, s_out, z_out, bits=8, optimization=None) -> np.ndarray:
    """onnxruntime's output codes for every input code: the QDQ graph's own semantics (no optimisation), or
    ``optimization`` (``ORT_ENABLE_ALL``: the fused integer kernels, as parity runs the flavour)."""
    x = ((_codes(bits) - z_in).astype(np.float32) * np.float32(s_in)).reshape(1, 1, -1)
    if optimization is None:
        y = run_ort(model, {"mixture": x})
    else:
        so = ort.SessionOptions()
        so.graph_optimization_level = optimization
        so.add_session_config_entry("session.qdqisint8allowed", "1")
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"mixture": x})[0]
    y = y.reshape(-1).astype(np.float64)
    half = 2 ** (bits - 1)
    return np.clip(np.round(y / np.float64(np.float32(s_out))) + z_out, -half, half - 1).astype(np.int64)


def _ids(p) -> str:
    return f"s_in={p[0]:.3g},z_in={p[1]},a={p[4]:.3g}"


@pytest.mark.parametrize("bits,params", [(8, p) for p in INT8] + [(16, p) for p in INT16],
                         ids=lambda v: f"int{v}" if isinstance(v, int) else _ids(v))
def test_simulation_is_tflite_on_every_code(bits, params):
    model = _model(*params, bits=bits)
    buf = convert_model(model, io="quantized")[0]
    x = _codes(bits).reshape(1, 1, -1)
    assert_reference_matches_litert(buf, x)
    sim = simulation(*params, bits=bits)
    for kernel in ("ref", "builtin", "xnnpack"):
        got = run_litert(buf, x, kernel).reshape(-1).astype(np.int64)
        bad = np.flatnonzero(got != sim)
        tol = 1 if kernel == "xnnpack" else 0  # XNNPACK: its own fixed point
        assert np.abs(got - sim).max() <= tol, \
            f"{kernel}: codes {x.reshape(-1)[bad[:5]]} give {got[bad[:5]]}, the simulation {sim[bad[:5]]}"
    ort = _ort_codes(model, *params[:4], bits=bits)
    np.testing.assert_array_equal(ort, one_rounding(*params, bits=bits))
    assert np.abs(ort - sim).max() <= 1  # the contract graph's one-node rule


@pytest.mark.parametrize("params", INT8, ids=_ids)
def test_onnxruntime_flavour_keeps_the_fused_one_rounding(params):
    """The onnxruntime flavour leaves LeakyRelu to onnxruntime's QLinearLeakyRelu: one rounding, within one code of
    TFLite's, as the contract graph."""
    flavour = onnxruntime_flavour(_model(*params))
    ops = {n.op_type for n in flavour.graph.node}
    assert "LeakyRelu" in ops and "Gather" not in ops
    codes = _ort_codes(flavour, *params[:4], optimization=ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    np.testing.assert_array_equal(codes, one_rounding(*params))
    assert np.abs(codes - simulation(*params)).max() <= 1


def test_the_kernel_rounds_twice_not_once():
    """TFLite's int8 LEAKY_RELU does not just round once: on these sets, dozens of codes are rounded twice."""
    moved = sum(int(np.count_nonzero(simulation(*p) != one_rounding(*p))) for p in INT8)
    assert moved >= 60, moved
    assert all(set(np.unique(simulation(*p) - one_rounding(*p))) <= {-1, 0, 1} for p in INT8)
