"""Concat of an int8 input quantized with another scale (``ops/concat.py``): requantized as an ADD of a zero
constant, on every input code: the integer reference == LiteRT BUILTIN_REF on every tensor, the reference, builtin
and XNNPACK kernels give the same codes, and those are one rounding of the real value (up to float near ties), where
TFLite's int8 -> int8 QUANTIZE differs between its own two kernel sets. (A scale ratio that makes exact ties, such as
1/2, still rounds them XNNPACK's own way: not one of these cases.)"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_reference_matches_litert, run_litert
from qdq_builder import QDQ

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.reference import ReferenceModel

CODES = np.arange(-128, 128)
# (input scale, zero point, output scale, zero point): the lightweight Wave-U-Net's decoder ratios and others
CASES = [(0.05, 3, 0.0937, -7), (0.0213, -20, 0.0377, 5), (0.031, 11, 0.0179, -2), (0.0117, -128, 0.0523, -101)]


def _model(s_in, z_in, s_out, z_out):
    b = QDQ(channels=1, length=CODES.size)
    x = b.input(s_in, z_in)
    b.output(b.op("Concat", [b.dq(x), b.dq(x)], (s_out, z_out), axis=1))
    return b.model()


@pytest.mark.parametrize("params", CASES, ids=lambda p: f"{p[0]}/{p[2]}")
def test_every_kernel_set_requantizes_alike(params):
    s_in, z_in, s_out, z_out = params
    buf = convert_model(_model(*params), io="quantized")[0]
    assert "ADD" in ReferenceModel(buf).op_names() and "QUANTIZE" not in ReferenceModel(buf).op_names()
    x = CODES.reshape(1, 1, -1)
    assert_reference_matches_litert(buf, x)
    got = {k: run_litert(buf, x, k).reshape(2, -1).astype(np.int64) for k in ("ref", "builtin", "xnnpack")}
    assert np.array_equal(got["ref"], got["builtin"]) and np.array_equal(got["ref"], got["xnnpack"])
    real = (CODES - z_in).astype(np.float64) * np.float32(s_in) / np.float32(s_out)
    once = np.clip(np.round(real) + z_out, -128, 127)
    assert np.abs(got["ref"][0] - once).max() <= 1 and np.count_nonzero(got["ref"][0] != once) <= 2
