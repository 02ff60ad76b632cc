"""bench.stats: percentiles and spread against numpy, and the conventions of benchmark_litert_model."""

from __future__ import annotations

import numpy as np
import pytest

from fqss_edge.bench.stats import LatencyStats, percentile, real_time_factor, stdev


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
@pytest.mark.parametrize("p", [0, 5, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(n, p):
    v = list(np.random.default_rng(n).exponential(5.0, n))
    assert percentile(v, p) == pytest.approx(np.percentile(v, p, method="linear"), rel=1e-12)


def test_stats_match_numpy():
    v = list(np.random.default_rng(0).gamma(2.0, 3.0, 257))
    s = LatencyStats.of(v)
    assert s.n == 257
    assert s.mean == pytest.approx(np.mean(v)) and s.std == pytest.approx(np.std(v, ddof=1))
    assert (s.min, s.max) == (min(v), max(v))
    for k in (50, 90, 99):
        assert getattr(s, f"p{k}") == pytest.approx(np.percentile(v, k))


def test_same_conventions_as_benchmark_litert_model():
    """The LiteRT benchmark tool's own percentile and statistics module give the same figures."""
    import statistics

    tool = pytest.importorskip("ai_edge_litert.tools.benchmark_litert_model")
    v = list(np.random.default_rng(1).normal(10.0, 2.0, 50))
    s = LatencyStats.of(v)
    assert s.p50 == pytest.approx(statistics.median(v))
    assert s.std == pytest.approx(statistics.stdev(v))
    for p in (5, 50, 90, 95, 99):
        assert percentile(v, p) == pytest.approx(tool.percentile(sorted(v), p))


def test_edge_cases():
    assert stdev([3.0]) == 0.0
    assert LatencyStats.of([2.0]).p99 == 2.0
    with pytest.raises(ValueError):
        LatencyStats.of([])
    assert real_time_factor(100.0, 4.0) == pytest.approx(0.025)
