"""runtimes/base.py: the I/O contract's lengths (resizable and fixed-length exports) and windowed runs."""

from __future__ import annotations

import numpy as np
import pytest

from fqss_edge.runtimes.base import IoContract, run_in_windows


def test_lengths_of_a_resizable_model():
    c = IoContract(sample_rate=8000, n_src=2, stride=8, kernel_size=16)
    assert [c.valid_length(n) for n in (1, 16, 17, 800)] == [16, 16, 24, 800]
    assert c.call_length(17) == 24 and "fixed" not in c.to_dict()["length"]


def test_lengths_of_a_fixed_length_model():
    c = IoContract(sample_rate=8000, n_src=2, stride=32, kernel_size=32, fixed_length=96)
    assert [c.valid_length(n) for n in (1, 96, 97, 300)] == [96, 96, 192, 384]  # whole windows
    assert c.call_length(300) == 96
    d = c.to_dict()
    assert d["input"]["shape"] == [1, 1, 96] and d["length"]["fixed"] == 96


@pytest.mark.parametrize("n", [1, 95, 96, 97, 300])
def test_run_in_windows_pads_the_last_window_and_crops(n):
    calls = []

    def run(w):
        calls.append(w.copy())
        return np.stack([w, np.full_like(w, len(calls))])  # source 2: the window's number

    x = np.arange(1, n + 1, dtype=np.float32)
    y = run_in_windows(run, x, 96)
    assert y.shape == (2, n) and np.array_equal(y[0], x)
    assert np.array_equal(y[1], np.repeat(np.arange(1, len(calls) + 1), 96)[:n])
    assert all(w.size == 96 for w in calls) and len(calls) == -(-n // 96)
    assert not calls[-1][n - 96 * (len(calls) - 1):].any()  # zero padding after the input
