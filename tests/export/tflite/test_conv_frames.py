"""A strided waveform convolution (the encoders, the FQSS re-encoder) is written on frames: RESHAPE to
[T/S, S*C] and a stride-1 CONV_2D (``ops/conv.py``). Its outputs are checked against LiteRT and onnxruntime by the
one-node cases (``op_cases_conv.py``); here: that the frames form is the one written, and the filter's layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from op_cases import CASES

from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite.ops.conv import framed_filter
from fqss_edge.export.tflite.reference import ReferenceModel

STRIDED = ["strided_encoder", "strided_padded", "strided_ragged"]


def _case(name):
    return next(c for c in CASES["Conv"] if c.name == name)


@pytest.mark.parametrize("kind", ["int8", "float32"])
@pytest.mark.parametrize("name", STRIDED)
def test_strided_waveform_conv_runs_on_frames(name, kind):
    case = _case(name)
    model = case.model(8) if kind == "int8" else case.float_model()
    ref = ReferenceModel(convert_model(model, io="quantized" if kind == "int8" else "float32")[0])
    convs = [op for op in ref.sg.operators if ref.codes[op.opcodeIndex] == 3]  # CONV_2D
    assert len(convs) == 1 and convs[0].builtinOptions.strideW == 1, "the strided CONV_2D was not rewritten"
    assert ref.tensors[convs[0].inputs[0]].name.endswith("/frames")  # the RESHAPE's output


def test_other_convs_keep_their_form():
    for name in ("pointwise", "depthwise_dilated", "causal_pad"):
        ref = ReferenceModel(convert_model(_case(name).model(8), io="quantized")[0])
        assert not any(t.name.endswith("/frames") for t in ref.tensors), name


@pytest.mark.parametrize("k,s,c", [(16, 8, 1), (16, 8, 2), (5, 2, 4), (3, 4, 1), (2, 2, 2)])
def test_framed_filter_computes_the_strided_conv(k, s, c):
    rng = np.random.default_rng(k * 100 + s * 10 + c)
    w = rng.integers(-127, 128, (6, c, k)).astype(np.float64)
    x = rng.integers(-128, 128, (1, c, 12 * s)).astype(np.float64)
    want = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), stride=s).numpy()
    f = framed_filter(w, s)  # [Cout, 1, m, s*C]
    frames = x[0].T.reshape(-1, s * c)  # [T/s, s*C], the RESHAPE of [T, C]
    m = f.shape[2]
    got = np.stack([np.einsum("mj,omj->o", frames[u:u + m], f[:, 0]) for u in range(frames.shape[0] - m + 1)], 1)
    np.testing.assert_array_equal(got[None], want)
