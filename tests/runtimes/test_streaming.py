"""runtimes/streaming.py: overlap-add correctness, push-size independence, source-order alignment, latency and
timings, level normalisation, and streaming == offline ``separate`` (same settings)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.errors import FqssError
from fqss_edge.runtimes import open_backend
from fqss_edge.runtimes.streaming import StreamingSeparator, best_permutation, crossfade_ramp
from fqss_edge.separate import SeparateOptions, separate_file
from tests.app_models import SR, FakeBackend, expected, noise, tiny_models  # noqa: F401


def stream(sep: StreamingSeparator, x: np.ndarray, frame: int) -> np.ndarray:
    parts = [sep.push(x[i:i + frame]) for i in range(0, x.size, frame)]
    parts.append(sep.flush())
    for p in parts:
        assert p.dtype == np.float32 and p.shape[0] == sep.n_src
    return np.concatenate(parts, axis=1)


def test_crossfade_halves_sum_to_one():
    r = crossfade_ramp(37)
    assert np.all(np.diff(r) > 0) and 0 < r[0] < 0.01 and 0.99 < r[-1] < 1
    np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-15)


@pytest.mark.parametrize("kind", ["signs", "negate"])
@pytest.mark.parametrize("n", [1, 7, 799, 800, 801, 2000, 4567], ids=lambda n: f"T{n}")
def test_pointwise_model_is_reproduced_exactly(kind, n):
    """With a model that does not depend on context, overlap-add with complementary fades is exact."""
    sep = StreamingSeparator(FakeBackend(kind), chunk_seconds=0.05, overlap_seconds=0.025,  # 400 + 200 samples
                             normalize=False)
    x = noise(n, seed=n)
    y = stream(sep, x, 160)
    assert y.shape == (2, n)
    assert np.array_equal(y, expected(kind, x))


@pytest.mark.parametrize("frame", [1, 80, 160, 333, 10_000])
def test_output_does_not_depend_on_push_sizes(frame):
    be = FakeBackend("signs")
    x = noise(5000, seed=1)
    ref = stream(StreamingSeparator(be, 0.05, 0.01), x, 5000)
    assert np.array_equal(stream(StreamingSeparator(be, 0.05, 0.01), x, frame), ref)


def test_windows_and_outputs_become_final_in_order():
    be = FakeBackend("signs")
    sep = StreamingSeparator(be, chunk_seconds=0.05, overlap_seconds=0.01)  # hop 400, overlap 80, window 480
    assert (sep.chunk_samples, sep.overlap_samples, sep.window_samples) == (400, 80, 480)
    assert sep.push(noise(479)).shape == (2, 0)  # not a whole window yet
    assert sep.push(noise(1)).shape == (2, 400)  # first window: its first hop is final
    assert sep.push(noise(399)).shape == (2, 0)
    assert sep.push(noise(1)).shape == (2, 400)
    assert be.calls == [480, 480]
    tail = sep.flush()
    assert tail.shape == (2, 80)  # the last overlap: the final window is the last 480 samples
    assert be.calls[-1] == 480
    assert sep.samples_in == 0 and sep.samples_out == 0  # reset for a new stream


def test_short_stream_is_one_call():
    be = FakeBackend("signs")
    sep = StreamingSeparator(be, 4.0, 0.5)
    y = stream(sep, noise(1000), 160)
    assert y.shape == (2, 1000) and be.calls == [1000]


def test_latency_and_timings():
    sep = StreamingSeparator(FakeBackend("signs"), chunk_seconds=0.1, overlap_seconds=0.02)
    assert sep.latency_samples == 800 + 160
    assert sep.latency_ms == pytest.approx(120.0)
    assert sep.chunk_duration_seconds == pytest.approx(0.1)
    assert sep.last_chunk_seconds is None
    stream(sep, noise(4000), 80)
    assert len(sep.chunk_timings) == 5 and all(t >= 0 for t in sep.chunk_timings)
    assert sep.last_chunk_seconds == sep.chunk_timings[-1]


def test_lengths_are_rounded_to_model_frames():
    sep = StreamingSeparator(FakeBackend("signs", stride=8), chunk_seconds=0.0503, overlap_seconds=0.0011)
    assert sep.chunk_samples % 8 == 0 and sep.overlap_samples % 8 == 0


@pytest.mark.parametrize("chunk, overlap", [(0, 0.1), (-1, 0), (0.1, -0.1), (0.1, 0.2)])
def test_bad_settings(chunk, overlap):
    with pytest.raises(FqssError):
        StreamingSeparator(FakeBackend("signs"), chunk, overlap)


def test_bad_frames():
    sep = StreamingSeparator(FakeBackend("signs"), 0.05, 0.01)
    with pytest.raises(FqssError, match="NaN"):
        sep.push(np.array([0.1, np.nan], dtype=np.float32))
    with pytest.raises(FqssError, match="mono"):
        sep.push(np.zeros((2, 10), dtype=np.float32))


def test_source_order_is_aligned_across_chunks():
    """The fake model swaps its two outputs on every other call; alignment undoes it exactly."""
    x = noise(6000, seed=3)
    aligned = stream(StreamingSeparator(FakeBackend("swap"), 0.05, 0.02, normalize=False), x, 160)
    assert np.array_equal(aligned, expected("signs", x))
    raw = stream(StreamingSeparator(FakeBackend("swap"), 0.05, 0.02, align_sources=False, normalize=False), x, 160)
    assert not np.array_equal(raw, expected("signs", x))


@pytest.mark.parametrize("level", [1.0, 0.03, 0.001])
def test_every_window_reaches_the_training_level(level):
    """Each window is scaled to peak 0.9 (the training level) and its outputs back to the input's level."""
    be = FakeBackend("signs")
    x = (noise(3000, seed=7) * level).astype(np.float32)
    y = stream(StreamingSeparator(be, 0.05, 0.01), x, 160)
    assert len(be.peaks) == 8 and np.allclose(be.peaks, 0.9, rtol=1e-6)
    np.testing.assert_allclose(y, expected("signs", x), rtol=1e-6, atol=1e-6 * float(np.abs(x).max()))


def test_near_silent_windows_are_not_amplified():
    be = FakeBackend("signs")
    x = (noise(3000, seed=8) * 1e-4).astype(np.float32)  # peak about 3e-4: some windows below 1e-4, some above
    sep = StreamingSeparator(be, 0.05, 0.01)
    stream(sep, x, 160)
    quiet = [p for p, g in zip(be.peaks, sep.gains) if g == 1.0]
    assert all(p < 1e-4 for p in quiet)
    assert all(abs(p - 0.9) < 1e-6 for p, g in zip(be.peaks, sep.gains) if g != 1.0)


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "checkpoint"])
def test_int8_model_output_does_not_depend_on_input_level(fmt, tiny_models):
    """x/32 comes out as exactly out(x)/32 (a power of two: the model sees bit-identical windows); without the
    normalisation the int8 model's output at -30 dB is a different signal."""
    backend = open_backend(tiny_models[fmt])
    x = noise(SR * 2, seed=9, scale=0.2)
    loud = stream(StreamingSeparator(backend, 1.0, 0.25), x, SR // 100)
    quiet = stream(StreamingSeparator(backend, 1.0, 0.25), x / 32, SR // 100)
    assert np.array_equal(quiet * 32, loud)
    raw_loud = stream(StreamingSeparator(backend, 1.0, 0.25, normalize=False), x, SR // 100)
    raw_quiet = stream(StreamingSeparator(backend, 1.0, 0.25, normalize=False), x / 32, SR // 100)
    err = float(np.sum((raw_quiet * 32 - raw_loud) ** 2) / np.sum(raw_loud ** 2))
    assert err > 1e-3  # the int8 model is not level-invariant by itself


def test_best_permutation():
    rng = np.random.default_rng(0)
    prev = rng.standard_normal((3, 100))
    cur = prev[[2, 0, 1]] + 0.1 * rng.standard_normal((3, 100))
    perm = best_permutation(prev, cur)
    assert np.allclose(cur[list(perm)], prev, atol=0.5)
    assert best_permutation(np.zeros((2, 10)), np.zeros((2, 10))) == (0, 1)  # silence: keep the order
    big = rng.standard_normal((9, 50))
    assert best_permutation(big, big[::-1]) == tuple(range(8, -1, -1))  # greedy path


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "checkpoint"])
def test_tiny_model_streaming_equals_offline_separate(fmt, tiny_models, tmp_path):
    """The same settings give the same samples whether streamed in 10 ms frames or separated from a file."""
    x = noise(SR * 3 + 123, seed=5, scale=0.2)
    mix = tmp_path / "mix.wav"
    sf.write(mix, x, SR, subtype="FLOAT")
    backend = open_backend(tiny_models[fmt])
    out = separate_file(mix, backend, tmp_path / "out", SeparateOptions(chunk_seconds=1.0, overlap_seconds=0.25))
    offline = np.stack([sf.read(out[name], dtype="float32")[0] for name in backend.io_contract.source_names])
    streamed = stream(StreamingSeparator(backend, 1.0, 0.25), x, SR // 100)
    assert offline.shape == streamed.shape == (2, x.size)
    assert np.array_equal(offline, streamed)


def test_a_fixed_length_model_sets_the_window():
    """A model exported at one length (``export --length``): every call gets exactly that many samples; the
    overlap is cut to at most half of it; a pointwise model is still reproduced exactly."""
    import dataclasses

    be = FakeBackend("signs")
    be._contract = dataclasses.replace(be.io_contract, fixed_length=320)
    sep = StreamingSeparator(be, chunk_seconds=4.0, overlap_seconds=0.5, normalize=False)  # 32000 + 4000 asked
    assert (sep.window_samples, sep.overlap_samples, sep.chunk_samples) == (320, 160, 160)
    x = noise(2000, seed=5)
    y = stream(sep, x, 97)
    assert np.array_equal(y, expected("signs", x)) and set(be.calls) == {320}
