"""bench.memory: peak RSS is measured in a separate child process (VmHWM after minus before loading)."""

from __future__ import annotations

import os

import pytest

from fqss_edge.bench.memory import measure_peak_rss
from fqss_edge.bench.runner import make_target
from fqss_edge.errors import FqssError


@pytest.mark.parametrize("kind", ["onnx_int8", "tflite"])
def test_child_process_memory_is_positive(tiny, kind):
    m = measure_peak_rss(make_target(getattr(tiny, kind)), chunk_seconds=0.5, runs=2)
    assert m.peak_mb > 0 and m.baseline_mb > 0 and m.hwm_mb == pytest.approx(m.baseline_mb + m.peak_mb)
    assert m.runs == 2


def test_child_is_a_different_process(tiny, monkeypatch):
    """The parent's own peak is never read: the child reports its own baseline, after importing the runtime."""
    import fqss_edge.bench.device_runner as dr

    monkeypatch.setattr(dr, "read_hwm_kb", lambda: (_ for _ in ()).throw(AssertionError("parent measured")))
    m = measure_peak_rss(make_target(tiny.onnx_int8), chunk_seconds=0.25, runs=1)
    assert m.peak_mb > 0 and os.getpid() > 0


def test_model_that_does_not_load_in_the_child(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(FqssError, match="bad.onnx: not a readable ONNX model"):
        measure_peak_rss(make_target(bad), chunk_seconds=0.25, runs=1)
