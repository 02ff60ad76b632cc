"""bench.agreement: XNNPACK vs TFLite's builtin kernels, operator by operator."""

from __future__ import annotations

from fqss_edge.bench.agreement import group_agreement, kernel_agreement
from fqss_edge.bench.device_runner import speech_like_input
from fqss_edge.runtimes.litert_backend import LiteRtBackend

MOVES = ("RESHAPE", "TRANSPOSE", "PAD", "CONCATENATION")  # data movement: equal by construction


def test_every_operator_compared_and_the_known_disagreement_found(tiny):
    from ai_edge_litert.tools import flatbuffer_utils as fu

    n = LiteRtBackend(kernels="builtin").load(tiny.tflite).io_contract.call_length(4000)
    rows = kernel_agreement(tiny.tflite, speech_like_input([1, n], "int16", seed=0))
    ops = fu.read_model(str(tiny.tflite)).subgraphs[0].operators
    assert [r["index"] for r in rows] == list(range(len(ops)))
    assert all(r["elements"] > 0 and 0 <= r["differ"] <= r["elements"] for r in rows)
    assert not any(r["differ"] for r in rows if r["op"] in MOVES and r["xnnpack"])
    conv = [r for r in rows if r["op"] == "CONV_2D"]
    assert conv and all(r["xnnpack"] for r in conv) and all(r["max_diff"] <= 1 for r in conv)
    # the convolutions' requantization (TFLite's fixed point, XNNPACK's float): one code on a few
    assert sum(r["differ"] for r in conv) > 0
    # no LEAKY_RELU (quantized-semantics revision 4: QUANTIZE + MUL + ADD), and the ADDs agree on every code
    assert not [r for r in rows if r["op"] == "LEAKY_RELU"]
    adds = [r for r in rows if r["op"] == "ADD" and r["xnnpack"]]
    assert adds and not any(r["differ"] for r in adds)

    groups = group_agreement(rows)
    assert sum(g["operators"] for g in groups) == len(rows)
    assert sum(g["elements"] for g in groups) == sum(r["elements"] for r in rows if r["xnnpack"])
    assert [g["differing"] for g in groups] == sorted((g["differing"] for g in groups), reverse=True)
    top = groups[0]
    assert top["differing_pct"] == 100.0 * top["differing"] / top["elements"] > 0
