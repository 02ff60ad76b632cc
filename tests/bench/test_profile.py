"""bench.profile: onnxruntime per-node CSV, XNNPACK delegation counts and per-operator timing for .tflite, and
a cross-check with LiteRT's own benchmark tool."""

from __future__ import annotations

import csv

import pytest

from fqss_edge.bench.profile import (ONNX_FIELDS, TFLITE_FIELDS, group_tflite_profile, onnx_node_profile,
                                     tflite_delegation, tflite_op_profile, write_csv)
from fqss_edge.bench.runner import make_target


def test_onnxruntime_node_profile_csv(tiny, tmp_path):
    rows = onnx_node_profile(make_target(tiny.onnx_int8), chunk_seconds=0.5, runs=3)
    ops = {r["op_type"] for r in rows}
    assert "QLinearConv" in ops  # the optimised graph's integer kernels
    assert all(r["calls"] == 3 for r in rows)
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0)
    assert rows == sorted(rows, key=lambda r: -r["total_ms"])
    path = write_csv(rows, tmp_path / "nodes.csv", ONNX_FIELDS)
    with path.open() as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == list(ONNX_FIELDS) and len(read) == len(rows)


def test_tflite_delegation_counts(tiny):
    d = tflite_delegation(make_target(tiny.tflite), chunk_seconds=0.5)
    assert d["operators"] > d["delegated"] > 0 and d["partitions"] >= 1
    assert sum(d["not_delegated"].values()) == d["operators"] - d["delegated"]
    assert d["fully_delegated"] is False  # the int16 gLN island stays on TFLite's kernels


def test_tflite_per_operator_timing(tiny):
    d = tflite_delegation(make_target(tiny.tflite), chunk_seconds=0.5)
    rows = tflite_op_profile(make_target(tiny.tflite), chunk_seconds=0.5, runs=2)
    assert len(rows) == d["operators"] and set(TFLITE_FIELDS) <= set(rows[0])
    assert {r["op"] for r in rows} >= {"CONV_2D", "QUANTIZE"}
    assert all(r["median_ms"] > 0 for r in rows)
    # XNNPACK takes the int8 convolutions even alone; the int16 island's operators stay on TFLite's kernels
    assert all(r["xnnpack"] for r in rows if r["op"] == "CONV_2D")
    assert not any(r["xnnpack"] for r in rows if r["output_dtype"] == "int16" and r["op"] in ("MUL", "ADD", "MEAN"))
    assert all(r["median_cpu_ms"] >= 0 for r in rows) and sum(r["median_cpu_ms"] for r in rows) > 0
    groups = group_tflite_profile(rows)
    assert sum(g["count"] for g in groups) == len(rows)
    assert sum(g["median_cpu_ms"] for g in groups) == pytest.approx(sum(r["median_cpu_ms"] for r in rows))
    assert sum(g["percent"] for g in groups) == pytest.approx(100.0)
    assert groups == sorted(groups, key=lambda g: -g["median_ms"])
    conv = [g for g in groups if g["op"] == "CONV_2D"]
    assert conv and all(g["xnnpack"] for g in conv)
    assert sum(g["count"] for g in conv) == sum(r["op"] == "CONV_2D" for r in rows)


def test_tflite_per_operator_timing_with_synthetic_inputs(tiny):
    """Over the capture budget (here 0 bytes) every operator still runs, on synthesized inputs of the captured
    inputs' shapes and types."""
    from fqss_edge.bench.profile import SyntheticValues, all_tensor_values

    n = 4000
    captured = all_tensor_values(tiny.tflite, n, seed=0)
    synthetic = all_tensor_values(tiny.tflite, n, seed=0, budget=0)
    assert isinstance(synthetic, SyntheticValues) and not isinstance(captured, SyntheticValues)
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model_tensors = range(len(fu.read_model(str(tiny.tflite)).subgraphs[0].tensors))  # (not kernel scratch)
    assert set(model_tensors) <= set(synthetic) and set(model_tensors) <= set(captured)
    for t in model_tensors:
        assert (synthetic[t].shape, synthetic[t].dtype) == (captured[t].shape, captured[t].dtype), t
    rows = tflite_op_profile(make_target(tiny.tflite), chunk_seconds=0.5, runs=1, capture_budget=0)
    real = tflite_op_profile(make_target(tiny.tflite), chunk_seconds=0.5, runs=1)
    assert [(r["op"], r["output_shape"]) for r in rows] == [(r["op"], r["output_shape"]) for r in real]
    assert {r["inputs"] for r in rows} == {"synthetic"} and {r["inputs"] for r in real} == {"captured"}
    assert all(r["median_ms"] > 0 for r in rows)


def test_cross_check_with_benchmark_litert_model(tiny, tmp_path):
    """LiteRT's tool on a fixed-length float-I/O export: runs, and agrees that the model is not fully on XNNPACK."""
    from fqss_edge.bench.litert_tool import run_litert_tool
    from fqss_edge.export.tflite import export

    fixed = tmp_path / "fixed_f32.tflite"
    export(tiny.onnx_int8, fixed, io="float32", length=4000)
    tool = run_litert_tool(fixed, threads=1, warmup=1, runs=5)
    assert tool["latency"]["num_runs"] == 5 and tool["latency"]["avg_ms"] > 0
    assert tool["fully_accelerated"] is tflite_delegation(make_target(fixed), 0.5)["fully_delegated"]
