"""Patterns of foreign QDQ graphs (onnxruntime quantize_static, Brevitas, PT2E) that TFLite cannot express fail in
one line naming the node and the reason, in the int8 and the float32 converter alike."""

from __future__ import annotations

import numpy as np
import pytest
from op_case_kit import bias, wq
from qdq_builder import QDQ, strip_qdq

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import convert_model


def _gemm(**attrs):
    b = QDQ()
    b.in_shape = [3, 6] if attrs.get("transA") != 1 else [6, 3]
    x = b.input(0.05, 0)
    w, s = wq((4, 6), 4)
    y = b.node("Gemm", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.05, s)], name="the_gemm", transB=1, **attrs)
    b.output(b.q(y, 0.1, 0))
    return b


def _pad(pads, mode):
    b = QDQ(channels=3, length=8)
    x = b.input(0.05, 0)
    y = b.node("Pad", [b.dq(x), b.const(np.array(pads, dtype=np.int64))], name="the_pad", mode=mode)
    b.output(b.q(y, 0.05, 0))
    return b


def _softmax_opset11():
    b = QDQ(channels=3, length=8, opset=11)
    x = b.input(0.05, 0)
    y = b.node("Softmax", [b.dq(x)], name="the_softmax", axis=1)
    b.output(b.q(y, 1 / 256, -128))
    return b


def _clip_dynamic_bound():
    b = QDQ(channels=3, length=8)
    x = b.input(0.05, 0)
    y = b.node("Clip", [b.dq(x), b.dq(x)], name="the_clip")  # min: an activation
    b.output(b.q(y, 0.05, 0))
    return b


def _resize(mode, resizable=False):
    b = QDQ(channels=3, length="T" if resizable else 8)
    x = b.input(0.05, 0)
    y = b.node("Resize", [b.dq(x), "", b.const(np.array([1, 1, 2], dtype=np.float32))], name="the_resize", mode=mode)
    b.output(b.q(y, 0.05, 0))
    return b


CASES = {
    "gemm_transA": (lambda: _gemm(transA=1), "the_gemm", "transA=1"),
    "gemm_alpha": (lambda: _gemm(alpha=0.5), "the_gemm", "alpha=0.5"),
    "pad_edge": (lambda: _pad([0, 0, 1, 0, 0, 1], "edge"), "the_pad", "mode 'edge' has no TFLite operator"),
    "pad_reflect_too_wide": (lambda: _pad([0, 0, 8, 0, 0, 0], "reflect"), "the_pad", "must be smaller than the axis"),
    "softmax_opset11_flattened": (_softmax_opset11, "the_softmax", "flattened axes"),
    "clip_dynamic_bound": (_clip_dynamic_bound, "the_clip", "must be a constant scalar"),
    "resize_cubic": (lambda: _resize("cubic"), "the_resize", "mode 'cubic' has no TFLite equivalent"),
    "resize_length_dependent": (lambda: _resize("linear", True), "the_resize", "export with a fixed length"),
}


@pytest.mark.parametrize("precision", ["int8", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_unsupported_pattern_fails_in_one_line_naming_the_node(case, precision):
    build, node, why = CASES[case]
    model = build().model()
    if precision == "float32":
        model = strip_qdq(model)
    with pytest.raises(FqssError) as e:
        convert_model(model, io="quantized" if precision == "int8" else "float32")
    msg = str(e.value)
    assert "\n" not in msg and f"node {node!r}" in msg and why in msg, msg
