"""Run several models side by side on this machine: load each (init time), one first inference, warm-up, then
timed runs that ALTERNATE between the models (round-robin), so that a busy or throttling CPU slows them alike.

    targets = [make_target("int8.tflite", threads=1), make_target("float.onnx", threads=1)]
    measurements = run_round_robin(targets, Settings(chunk_seconds=4.0, warmup=5, runs=50))

Every latency is one ``backend.run(waveform)`` call on a chunk of ``chunk_seconds`` of audio: the runtime's
inference plus the backend's padding to the model's length contract and cropping (microseconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.bench.device_runner import speech_like_input
from fqss_edge.errors import FqssError
from fqss_edge.runtimes.footprint import check_window

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt")


@dataclass
class Settings:
    threads: int = 1
    chunk_seconds: float = 1.0
    warmup: int = 5
    runs: int = 50
    min_secs: float | None = None  # instead of runs: until every model has run this long (at least 2 rounds)
    xnnpack: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise FqssError(f"--threads must be >= 1, not {self.threads}")
        if not (self.chunk_seconds > 0 and math.isfinite(self.chunk_seconds)):
            raise FqssError(f"--chunk must be a finite number > 0 seconds, not {self.chunk_seconds}")
        if self.warmup < 0 or self.runs < 1:
            raise FqssError(f"--warmup must be >= 0 and --runs >= 1 (got {self.warmup}, {self.runs})")
        if self.min_secs is not None and not (self.min_secs > 0 and math.isfinite(self.min_secs)):
            raise FqssError(f"--min-secs must be > 0, not {self.min_secs}")


@dataclass
class Target:
    """One model and the backend options it runs with."""

    path: Path
    kind: str  # tflite | onnx | pytorch | pytorch-float
    options: dict[str, Any]
    label: str = ""
    xnnpack: bool | None = None  # None: not a LiteRT model

    def open(self) -> Any:
        from fqss_edge.runtimes import open_backend

        try:
            return open_backend(self.path, **self.options)
        except FqssError:
            raise
        except Exception as e:  # a runtime's own exception types: still one line naming the model
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise FqssError(f"{self.path}: the model does not load ({msg})") from None


def make_target(path: str | Path, threads: int = 1, xnnpack: bool = True, torch_float: bool = False,
                label: str = "") -> Target:
    p = Path(path)
    if not p.is_file():
        raise FqssError(f"{p}: no such model file")
    suffix = p.suffix.lower()
    if suffix == ".tflite":
        return Target(p, "tflite", {"kernels": "xnnpack" if xnnpack else "builtin", "threads": threads}, label,
                      xnnpack)
    if suffix == ".onnx":
        return Target(p, "onnx", {"optimization": "all", "threads": threads}, label)
    if suffix in CHECKPOINT_SUFFIXES:
        kind = "pytorch-float" if torch_float else "pytorch"
        return Target(p, kind, {"threads": threads, **({"quantized": False} if torch_float else {})}, label)
    raise FqssError(f"{p}: cannot benchmark '{suffix or 'no suffix'}' files (.tflite, .onnx, or a checkpoint "
                    f"{', '.join(CHECKPOINT_SUFFIXES)})")


def unique_labels(targets: list[Target]) -> None:
    """Label each target by its file name (with its folder, or its kind, where names clash)."""
    for t in targets:
        t.label = t.label or t.path.name
    for attempt in (lambda t: f"{t.path.parent.name}/{t.path.name}", lambda t: f"{t.label} [{t.kind}]",
                    lambda t: f"{t.label} #{targets.index(t) + 1}"):
        seen: dict[str, int] = {}
        for t in targets:
            seen[t.label] = seen.get(t.label, 0) + 1
        if all(v == 1 for v in seen.values()):
            return
        for t in targets:
            if seen[t.label] > 1:
                t.label = attempt(t)


@dataclass
class Measurement:
    label: str
    sample_rate: int
    samples: int
    init_ms: float
    first_ms: float
    warmup_ms: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    backend: str = ""


def chunk_waveform(sample_rate: int, seconds: float, seed: int = 0, channels: int = 1) -> np.ndarray:
    """The benchmark input: ``seconds`` of a speech-like test signal, float32 in [-1, 1): [n], or [channels, n]
    for a multi-channel model."""
    n = max(1, round(seconds * sample_rate))
    return speech_like_input([n] if channels == 1 else [channels, n], np.float32, seed)


def _timed(fn: Callable[..., Any], *args: Any) -> float:
    t0 = time.perf_counter_ns()
    fn(*args)
    return (time.perf_counter_ns() - t0) / 1e6


def run_round_robin(targets: list[Target], settings: Settings,
                    opener: Callable[[Target], Any] = Target.open,
                    on_run: Callable[[str], None] | None = None) -> list[Measurement]:
    """Load, first run, warm up and time every target, alternating between them run by run.
    ``opener`` builds a loaded backend from a target (tests pass fakes); ``on_run(label)`` is called before
    every timed call, in execution order."""
    backends, results, inputs = [], [], []
    for t in targets:
        t0 = time.perf_counter_ns()
        be = opener(t)
        init_ms = (time.perf_counter_ns() - t0) / 1e6
        sr = int(be.io_contract.sample_rate)
        if hasattr(be.io_contract, "call_length"):  # (test fakes have no contract to estimate from)
            check_window(be, be.io_contract.call_length(max(1, round(settings.chunk_seconds * sr))),
                         f"{t.path}: --chunk {settings.chunk_seconds:g} s")
        x = chunk_waveform(sr, settings.chunk_seconds, settings.seed, getattr(be.io_contract, "audio_channels", 1))
        first = _timed(be.run, x)
        backends.append(be)
        inputs.append(x)
        results.append(Measurement(t.label, sr, x.shape[-1], init_ms, first, backend=str(getattr(be, "name", ""))))

    def one_round(phase: str) -> None:
        for be, x, r in zip(backends, inputs, results):
            if on_run is not None:
                on_run(r.label)
            ms = _timed(be.run, x)
            (r.warmup_ms if phase == "warmup" else r.latencies_ms).append(ms)

    for _ in range(settings.warmup):
        one_round("warmup")
    rounds = 0
    while True:
        one_round("timed")
        rounds += 1
        if settings.min_secs is None:
            if rounds >= settings.runs:
                break
        elif rounds >= 2 and all(sum(r.latencies_ms) >= 1000 * settings.min_secs for r in results):
            break
    return results
