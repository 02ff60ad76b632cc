"""bench.runner: models alternate run by run (round-robin), warm-up and timed phases, labels, targets."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fqss_edge.bench.runner import Settings, Target, make_target, run_round_robin, unique_labels
from fqss_edge.errors import FqssError


class FakeBackend:
    def __init__(self, name: str, calls: list[str], sample_rate: int = 8000):
        self.name, self.calls = name, calls
        self.io_contract = SimpleNamespace(sample_rate=sample_rate)

    def run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(self.name)
        return np.zeros((2, x.shape[0]), np.float32)


def _targets(*labels: str) -> list[Target]:
    return [Target(Path(f"/m/{lab}.onnx"), "onnx", {}, lab) for lab in labels]


def test_runs_alternate_between_models():
    calls: list[str] = []
    timed: list[str] = []
    targets = _targets("a", "b", "c")
    res = run_round_robin(targets, Settings(warmup=2, runs=4), opener=lambda t: FakeBackend(t.label, calls),
                          on_run=timed.append)
    # first inference of each, in order; then warm-up and timed runs strictly alternate a, b, c, a, b, c, ...
    assert calls[:3] == ["a", "b", "c"]
    assert calls[3:] == ["a", "b", "c"] * 6
    assert timed == ["a", "b", "c"] * 6
    for r in res:
        assert len(r.warmup_ms) == 2 and len(r.latencies_ms) == 4
        assert r.samples == 8000 and r.sample_rate == 8000 and r.first_ms >= 0 and r.init_ms >= 0


def test_chunk_length_follows_each_models_sample_rate():
    calls: list[str] = []
    rates = {"a": 8000, "b": 16000}
    res = run_round_robin(_targets("a", "b"), Settings(chunk_seconds=0.5, warmup=0, runs=1),
                          opener=lambda t: FakeBackend(t.label, calls, rates[t.label]))
    assert [r.samples for r in res] == [4000, 8000]


def test_min_secs_runs_until_every_model_has_run_long_enough():
    calls: list[str] = []

    class Slow(FakeBackend):
        def run(self, x):
            import time

            time.sleep(0.004 if self.name == "slow" else 0.0)
            return super().run(x)

    res = run_round_robin(_targets("fast", "slow"), Settings(warmup=0, runs=1, min_secs=0.02),
                          opener=lambda t: Slow(t.label, calls))
    assert len(res[0].latencies_ms) == len(res[1].latencies_ms) >= 2
    assert sum(res[0].latencies_ms) >= 20.0 and sum(res[1].latencies_ms) >= 20.0


def test_settings_are_validated():
    with pytest.raises(FqssError, match="--threads"):
        Settings(threads=0)
    with pytest.raises(FqssError, match="--chunk"):
        Settings(chunk_seconds=0)
    with pytest.raises(FqssError, match="--min-secs"):
        Settings(min_secs=-1)


def test_make_target_options_by_suffix(tmp_path):
    for name in ("m.tflite", "m.onnx", "m.safetensors", "m.bin"):
        (tmp_path / name).write_bytes(b"x")
    t = make_target(tmp_path / "m.tflite", threads=2, xnnpack=False)
    assert (t.kind, t.options, t.xnnpack) == ("tflite", {"kernels": "builtin", "threads": 2}, False)
    assert make_target(tmp_path / "m.onnx", 2).options == {"optimization": "all", "threads": 2}
    f = make_target(tmp_path / "m.safetensors", 1, torch_float=True)
    assert (f.kind, f.options) == ("pytorch-float", {"threads": 1, "quantized": False})
    with pytest.raises(FqssError, match=r"m.bin: cannot benchmark '.bin' files"):
        make_target(tmp_path / "m.bin")
    with pytest.raises(FqssError, match="no such model file"):
        make_target(tmp_path / "missing.onnx")


def test_labels_are_unique():
    ts = [Target(Path("/a/model.onnx"), "onnx", {}), Target(Path("/b/model.onnx"), "onnx", {}),
          Target(Path("/a/model.tflite"), "tflite", {})]
    unique_labels(ts)
    assert [t.label for t in ts] == ["a/model.onnx", "b/model.onnx", "model.tflite"]
    same = [Target(Path("/a/m.tflite"), "tflite", {}), Target(Path("/a/m.tflite"), "tflite", {})]
    unique_labels(same)
    assert len({t.label for t in same}) == 2
