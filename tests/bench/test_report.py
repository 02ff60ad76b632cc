"""bench.report: JSON and Markdown output, ratios against the first model, the emulation label."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from fqss_edge.bench.memory import MemoryResult
from fqss_edge.bench.report import EMULATED, BenchReport, ModelResult, has_int8_dot_product, int8_speed_note


def _result(label: str, scale: float, size: int, peak: float | None, xnnpack: bool | None = None) -> ModelResult:
    return ModelResult(label=label, path=f"/m/{label}", kind="tflite" if xnnpack is not None else "onnx",
                       backend="litert-xnnpack" if xnnpack else "onnxruntime[opt=all]", file_bytes=size, threads=1,
                       xnnpack=xnnpack, sample_rate=8000, chunk_seconds=4.0, samples=32000, init_ms=10.0,
                       first_ms=5.0, warmup_ms=[4.0, 4.0], latencies_ms=[scale * v for v in (90, 100, 110)],
                       memory=MemoryResult(peak, 50.0, 50.0 + peak, 3) if peak is not None else None,
                       delegation={"operators": 10, "delegated": 10, "partitions": 1, "not_delegated": {}}
                       if xnnpack else None)


@pytest.fixture
def report() -> BenchReport:
    return BenchReport(device={"name": "cpu"}, where="local",
                       settings={"threads": 1, "chunk_seconds": 4.0, "warmup": 2, "runs": 3},
                       results=[_result("float.onnx", 1.0, 4_000_000, 40.0),
                                _result("int8.tflite", 0.25, 1_000_000, 10.0, xnnpack=True)],
                       caveats=["peak RSS: a caveat"])


def test_json_has_stats_rtf_and_ratios(report):
    d = json.loads(report.to_json())
    a, b = d["results"]
    assert a["latency_ms"]["mean"] == pytest.approx(100.0) and a["latency_ms"]["p50"] == pytest.approx(100.0)
    assert a["rtf"] == pytest.approx(0.025) and b["rtf"] == pytest.approx(0.00625)
    assert b["ratios_vs_first"] == pytest.approx({"latency": 0.25, "rtf": 0.25, "file_size": 0.25, "peak_rss": 0.25})
    assert a["ratios_vs_first"]["latency"] == pytest.approx(1.0)
    assert b["memory"]["peak_mb"] == 10.0 and b["delegation"]["partitions"] == 1
    assert b["warmup_mean_ms"] == 4.0 and b["raw_latencies_ms"] == pytest.approx([22.5, 25.0, 27.5])
    assert d["emulated"] is False and d["caveats"] == ["peak RSS: a caveat"]


def test_markdown_table_side_by_side(report):
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("### fqss-edge bench: device cpu (local), chunk 4 s, 1 thread")
    assert "| metric | float.onnx | int8.tflite |" in md
    assert "| real-time factor | 0.0250 | 0.0063 (0.25x) |" in md
    assert "| latency p90 (ms) | 108.00 | 27.00 |" in md
    assert "on: 10/10 ops, 1 partition" in md and "| XNNPACK | n/a |" in md
    assert "- peak RSS: a caveat" in md


def test_emulated_times_are_labelled(report):
    report.emulated = True
    md = report.to_markdown()
    assert EMULATED.upper() in md.splitlines()[0]
    time_rows = [ln for ln in md.splitlines() if "(ms)" in ln or "real-time factor" in ln]
    assert time_rows and all(EMULATED in ln for ln in time_rows)
    assert json.loads(report.to_json())["timing_note"] == EMULATED


def test_rich_table_renders_backend_names_literally(report):
    console = Console(record=True, width=200)
    report.print_table(console)
    text = console.export_text()
    assert "onnxruntime[opt=all]" in text and "int8.tflite" in text and "a caveat" in text


AVX2 = ["avx", "avx2", "fma", "sse4_1", "sse4_2"]


@pytest.mark.parametrize("simd, dot", [(AVX2, False), (AVX2 + ["avx512_vnni"], True), (AVX2 + ["avx_vnni"], True),
                                       (["asimd"], False), (["asimd", "asimddp"], True), (["asimd", "i8mm"], True)])
def test_int8_dot_product_flags(simd, dot):
    assert has_int8_dot_product(simd) is dot


def test_int8_speed_note_only_when_int8_is_not_faster_and_the_cpu_lacks_dot_products():
    note = int8_speed_note(62.3, 34.1, AVX2)
    assert note.startswith("The int8 .tflite takes 1.83x the float32 one's time on this CPU")
    assert "VNNI" in note and "--device" in note
    assert int8_speed_note(30.0, 34.1, AVX2) is None  # int8 faster: nothing to explain
    assert int8_speed_note(62.3, 34.1, AVX2 + ["avx512_vnni"]) is None  # slower for another reason: no excuse given


def test_int8_speed_caveat_pairs_the_int8_and_float32_tflite_by_their_metadata(monkeypatch):
    """The first int8 and the first float32 .tflite of a run (by the precision their metadata records), whatever
    their order; nothing without both."""
    from fqss_edge.bench import report as report_module

    precision = {"/m/a.tflite": "float32", "/m/b.tflite": "int8", "/m/c.tflite": "int8"}
    monkeypatch.setattr(report_module, "tflite_precision", lambda path: precision.get(path))
    onnx, flt, int8, int8_fast = (_result("m.onnx", 0.1, 1, None), _result("a.tflite", 1.0, 4, None, True),
                                  _result("b.tflite", 1.8, 1, None, True), _result("c.tflite", 0.5, 1, None, True))
    note = report_module.int8_speed_caveat([onnx, int8, flt, int8_fast], AVX2)
    assert note is not None and note.startswith("The int8 .tflite takes 1.80x the float32 one's time")
    assert report_module.int8_speed_caveat([flt, int8_fast, int8], AVX2) is None  # the first int8 is faster
    assert report_module.int8_speed_caveat([onnx, int8], AVX2) is None
    assert report_module.int8_speed_caveat([int8, flt], AVX2 + ["avx512_vnni"]) is None
