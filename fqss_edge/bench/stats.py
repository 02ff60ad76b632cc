"""Latency statistics in the conventions of TFLite's benchmark_model and onnxruntime_perf_test.

``std`` is the sample standard deviation (n - 1), percentiles interpolate linearly between order statistics
(numpy's default, the same as ``benchmark_litert_model``'s own ``percentile``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from collections.abc import Sequence
from typing import Any

PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0 <= p <= 100) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (k - lo) * (s[hi] - s[lo])


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else float("nan")


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    n = len(values)
    if n < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of a list of latencies, in milliseconds."""

    n: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> "LatencyStats":
        v = list(values_ms)
        if not v:
            raise ValueError("no latencies to summarise")
        return cls(n=len(v), mean=mean(v), std=stdev(v), min=min(v), p50=percentile(v, 50),
                   p90=percentile(v, 90), p99=percentile(v, 99), max=max(v))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def real_time_factor(latency_ms: float, audio_seconds: float) -> float:
    """Processing time over audio duration: < 1 keeps up with real time (0.025: 40x faster than real time)."""
    return latency_ms / 1000.0 / audio_seconds
