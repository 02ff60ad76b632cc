"""The float islands (``ops/_float_island.py``). The int8 RSQRT (``ops/rsqrt.py``): DEQUANTIZE -> MAXIMUM -> RSQRT ->
QUANTIZE, written when no input code's value is near a rounding boundary. Bit-identical on all 256 input codes:
the simulation (the gLN's ``rsqrt`` and fake quantizer), the integer reference, LiteRT BUILTIN_REF and XNNPACK
(which takes the island); near a tie, the same with a float32 nudge before QUANTIZE; the int8 RSQRT only where
neither is exact. The same for ``variance + eps`` where
XNNPACK refuses the int8 ADD (``ops/add.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_reference_matches_litert, run_litert
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.ops import rsqrt as rsqrt_op
from fqss_edge.export.tflite.ops import _float_island as float_island
from fqss_edge.export.tflite.ops._float_island import codes_and_margins
from fqss_edge.export.tflite.ops.rsqrt import RSQRT_FLOOR, island_codes, island_plan
from fqss_edge.export.tflite.reference import ReferenceModel
from fqss_edge.quant.layers import norm
from fqss_edge.quant.quantizers import fake_quant
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

CODES = np.arange(-128, 128, dtype=np.int8)


def _model(s_in, z_in, s_out, z_out):
    b = QDQ(channels=1, length=256)
    x = b.input(s_in, z_in)
    b.output(b.op("Reciprocal", [b.node("Sqrt", [b.dq(x)])], (s_out, z_out)))
    return convert_model(b.model(), io="quantized")[0]


def _simulation(s_in, z_in, s_out, z_out) -> np.ndarray:
    s_in, s_out = torch.tensor(s_in, dtype=torch.float32), torch.tensor(s_out, dtype=torch.float32)
    v = (torch.tensor(CODES, dtype=torch.float32) - z_in) * s_in  # what the variance quantizer passes on
    y = fake_quant(norm.rsqrt(v), s_out, torch.tensor(float(z_out)), -128, 127)
    return (torch.round(y / s_out) + z_out).to(torch.int64).numpy()


def _gln_like_params(n: int):
    """(s_in, z_in, s_out, z_out) as the gLNs' variance + eps and 1/std quantizers have them (zero points -128:
    ranges from 0); the output range covers the inputs' 1/std, from 0.3x to 3x of it."""
    rng = np.random.default_rng(7)
    for _ in range(n):
        s_in = float(np.float32(10.0 ** rng.uniform(-6, -1)))
        top = 1 / np.sqrt(s_in * rng.uniform(1, 255))
        yield s_in, -128, float(np.float32(top * 10.0 ** rng.uniform(-0.5, 0.5) / 255)), -128


def test_the_simulation_and_the_island_share_the_floor():
    assert np.float32(norm.RSQRT_FLOOR) == RSQRT_FLOOR


EXACT = [p for p in _gln_like_params(12) if island_codes(*p) is not None]  # the others: test_near_tie_...


@pytest.mark.parametrize("params", EXACT, ids=lambda p: f"s_in={p[0]:.2e},s_out={p[2]:.2e}")
def test_island_is_bit_identical_to_the_simulation(params):
    want = island_codes(*params)
    buf = _model(*params)
    assert ReferenceModel(buf).op_names().count("RSQRT") == 1 and "DEQUANTIZE" in ReferenceModel(buf).op_names()
    x = CODES.reshape(1, 1, 256)
    assert_reference_matches_litert(buf, x)
    sim = _simulation(*params)
    for kernel in ("ref", "xnnpack"):
        got = run_litert(buf, x, kernel).reshape(-1).astype(np.int64)
        bad = np.flatnonzero(got != sim)
        assert not bad.size, f"{kernel}: codes {CODES[bad[:5]]} give {got[bad[:5]]}, the simulation {sim[bad[:5]]}"
    np.testing.assert_array_equal(want.astype(np.int64), sim)


def test_xnnpack_takes_the_island(tmp_path):
    params = EXACT[0]
    path = tmp_path / "island.tflite"
    path.write_bytes(_model(*params))
    d = xnnpack_delegation(path)
    assert d["partitions"] == 1 and not d["not_delegated"], d


def test_most_gln_like_params_take_the_island():
    taken = sum(island_codes(*p) is not None for p in _gln_like_params(200))
    assert taken >= 180, f"only {taken}/200 parameter sets are exact as a float island"


def test_every_gln_like_param_set_has_an_island_plan():
    """The near-tie ones too, with a nudge: no int8 RSQRT left to split XNNPACK's graph."""
    params = list(_gln_like_params(400))
    plans = [island_plan(*p) for p in params]
    assert all(plan is not None for plan in plans), [p for p, plan in zip(params, plans) if plan is None][:3]
    assert any(plan[1] is not None for plan in plans)  # some needed the nudge


def _tie():
    s_in = np.float32(0.05)  # code -127: value 0.05, 1/sqrt(0.05) / s_out = 10.5, a tie
    return float(s_in), -128, float(np.float32(1 / np.sqrt(np.float64(s_in)) / 10.5)), -128


def test_near_tie_is_a_nudged_island(tmp_path):
    """A code at a rounding tie: DEQUANTIZE -> MAXIMUM -> RSQRT -> MUL(k) -> QUANTIZE, k within 2^-13 of 1; the
    reference == BUILTIN_REF on every tensor, REF == XNNPACK == the plan's codes on all 256 inputs, one XNNPACK
    partition; the simulation differs only on the tie codes, by one code at most."""
    params = _tie()
    assert island_codes(*params) is None
    codes, k = island_plan(*params)
    assert k is not None and abs(float(k) - 1) <= 2.0 ** -13
    buf = _model(*params)
    names = ReferenceModel(buf).op_names()
    assert names.count("RSQRT") == 1 and "MUL" in names and "DEQUANTIZE" in names
    x = CODES.reshape(1, 1, 256)
    assert_reference_matches_litert(buf, x)
    for kernel in ("ref", "xnnpack"):
        np.testing.assert_array_equal(run_litert(buf, x, kernel).reshape(-1), codes, err_msg=kernel)
    sim = _simulation(*params)
    _, clear = codes_and_margins(rsqrt_op._rsqrt, *params)
    assert CODES[~clear].tolist() == [-127, -119, -79]  # value 0.05 n: 10.5 / sqrt(n) = 10.5, 3.5, 1.5
    moved = np.flatnonzero(codes.astype(np.int64) != sim)
    assert not clear[moved].any() and np.all(np.abs(codes[moved].astype(np.int64) - sim[moved]) <= 1)
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    assert d["partitions"] == 1 and not d["not_delegated"], d


def test_without_a_nudge_the_int8_rsqrt_is_written(monkeypatch):
    monkeypatch.setattr(float_island, "NUDGES", ())
    params = _tie()
    assert island_plan(*params) is None
    buf = _model(*params)
    assert "DEQUANTIZE" not in ReferenceModel(buf).op_names()
    x = np.clip(CODES, -128 + 1, None).reshape(1, 1, 256).astype(np.int8)  # the int8 kernel: no negative values
    assert_reference_matches_litert(buf, x)


def test_variance_plus_eps_xnnpack_refuses_is_a_float_island(tmp_path):
    """``Add`` of a one-element int8 activation and a constant, scales XNNPACK's int8 ADD refuses (the op case
    add_scalar_eps_island): DEQUANTIZE -> ADD -> QUANTIZE, equal to the simulation's float32 add and rounding on all
    256 codes, in one XNNPACK partition."""
    s_in, s_out, eps = 0.0235, 0.0212, np.float32(1e-5)
    b = QDQ(channels=1, length=1)
    x = b.input(s_in, -128)
    b.output(b.op("Add", [b.dq(x), b.qconst(np.array(1), eps, bits=8)], (s_out, -128, 8)))
    buf = convert_model(b.model(), io="quantized")[0]
    assert ReferenceModel(buf).op_names().count("DEQUANTIZE") == 1
    (tmp_path / "m.tflite").write_bytes(buf)
    assert xnnpack_delegation(tmp_path / "m.tflite")["partitions"] == 1
    v = (torch.tensor(CODES, dtype=torch.float32) + 128) * torch.tensor(s_in, dtype=torch.float32)
    sim = fake_quant(v + float(eps), torch.tensor(s_out, dtype=torch.float32), torch.tensor(-128.0), -128, 127)
    sim = (torch.round(sim / torch.tensor(s_out, dtype=torch.float32)) - 128).to(torch.int64).numpy()
    for code in CODES:
        xc = np.array(code, dtype=np.int8).reshape(1, 1, 1)
        assert_reference_matches_litert(buf, xc)
        for kernel in ("ref", "xnnpack"):
            assert int(run_litert(buf, xc, kernel).reshape(-1)[0]) == sim[int(code) + 128], (kernel, code)


def test_a_row_of_variances_plus_eps_is_a_float_island(tmp_path):
    """A LayerNorm's per-row ``variance + eps`` (Sepformer): eps' scale 1e-6 against a variance scale of 6.5e-3,
    XNNPACK refuses the int8 ADD (each one split the tiny Sepformer's graph): the same float island over the whole
    row, one XNNPACK partition, equal to the simulation on all 256 codes (one row holds them all) at two lengths."""
    s_in, s_out, eps = 0.0065246047, 0.0065246085, np.float32(1e-6)
    b = QDQ(channels=1, length=256)
    b.in_shape[2] = "T"
    x = b.input(s_in, -128)
    b.output(b.op("Add", [b.dq(x), b.qconst(np.array(1), eps, bits=8)], (s_out, -128, 8)))
    buf = convert_model(b.model(), io="quantized")[0]
    names = ReferenceModel(buf).op_names()
    assert [n for n in names if n != "RESHAPE"] == ["DEQUANTIZE", "ADD", "QUANTIZE"], names  # RESHAPE: the layout
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite", 256)
    assert d["partitions"] == 1 and not d["not_delegated"], d
    v = (torch.tensor(CODES, dtype=torch.float32) + 128) * torch.tensor(s_in, dtype=torch.float32)
    sim = fake_quant(v + float(eps), torch.tensor(s_out, dtype=torch.float32), torch.tensor(-128.0), -128, 127)
    sim = (torch.round(sim / torch.tensor(s_out, dtype=torch.float32)) - 128).to(torch.int64).numpy()
    for x in (CODES.reshape(1, 1, 256), np.tile(CODES, 3).reshape(1, 1, 768)):
        assert_reference_matches_litert(buf, x)
        for kernel in ("ref", "xnnpack"):
            got = run_litert(buf, x, kernel).reshape(-1).astype(np.int64)
            np.testing.assert_array_equal(got, np.tile(sim, x.size // 256), err_msg=kernel)


def _eps_tie():
    """variance + eps with learned scales (a trained Sepformer's: 0.0248 in, ~0.024 out), the output scale chosen so
    that code -28 (2.48 + 1e-6) lands on 103.5 output steps: a tie; eps' scale makes XNNPACK refuse the int8 ADD."""
    s_in, eps = np.float32(0.0248), np.float32(1e-6)
    v = np.float64(np.float32(np.float64(s_in) * 100))
    return float(s_in), float(np.float32((v + np.float64(eps)) / 103.5)), eps


def test_variance_plus_eps_at_a_tie_is_a_nudged_island(tmp_path):
    s_in, s_out, eps = _eps_tie()
    value = np.float64(np.float32(np.float64(np.float32(1e-6)) * 1))
    codes, k = float_island.island_plan(lambda v: v + value, s_in, -128, s_out, -128)
    assert k is not None
    b = QDQ(channels=1, length=256)
    x = b.input(s_in, -128)
    b.output(b.op("Add", [b.dq(x), b.qconst(np.array(1), eps, bits=8)], (s_out, -128, 8)))
    buf = convert_model(b.model(), io="quantized")[0]
    names = ReferenceModel(buf).op_names()
    assert [n for n in names if n != "RESHAPE"] == ["DEQUANTIZE", "ADD", "MUL", "QUANTIZE"], names
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    assert d["partitions"] == 1 and not d["not_delegated"], d
    xc = CODES.reshape(1, 1, 256)
    assert_reference_matches_litert(buf, xc)
    for kernel in ("ref", "xnnpack"):
        np.testing.assert_array_equal(run_litert(buf, xc, kernel).reshape(-1), codes, err_msg=kernel)
    v = (torch.tensor(CODES, dtype=torch.float32) + 128) * torch.tensor(s_in, dtype=torch.float32)
    sim = fake_quant(v + float(eps), torch.tensor(s_out, dtype=torch.float32), torch.tensor(-128.0), -128, 127)
    sim = (torch.round(sim / torch.tensor(s_out, dtype=torch.float32)) - 128).to(torch.int64).numpy()
    _, clear = codes_and_margins(lambda v: v + value, s_in, -128, s_out, -128)
    assert not clear[100]  # code -28
    moved = np.flatnonzero(codes.astype(np.int64) != sim)
    assert not clear[moved].any() and np.all(np.abs(codes[moved].astype(np.int64) - sim[moved]) <= 1)
