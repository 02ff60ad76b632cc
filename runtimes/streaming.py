"""Streaming separation for apps: push audio as it arrives, get separated audio back as it becomes final.

    from fqss_edge.runtimes import open_backend
    from fqss_edge.runtimes.streaming import StreamingSeparator

    sep = StreamingSeparator(open_backend("model.tflite"), chunk_seconds=4.0, overlap_seconds=0.5)
    for frames in microphone:                 # float32 [n] at sep.sample_rate, any n (e.g. 10 ms frames)
        play(sep.push(frames))                # float32 [n_src, m]: the samples that are final (m may be 0)
    play(sep.flush())                         # the rest; the separator is then ready for a new stream

How it works (windowed overlap-add): the model runs on windows of ``chunk + overlap`` samples that start every
``chunk`` samples. Consecutive windows share ``overlap`` samples, where the outputs are cross-faded with a
raised-cosine (Hann) fade whose two halves sum to one, so a model that is the identity gives the input back
exactly. Before the cross-fade, the new window's sources are reordered to best match the previous window on the
shared samples (the permutation with the largest summed inner product, i.e. the smallest squared difference):
a separation model may output its sources in any order, and that order can change from one window to the next.
With ``overlap_seconds=0`` there is nothing to align on and windows are simply concatenated.
The final (shorter) window at ``flush()`` is taken as the last ``chunk + overlap`` samples of the stream when
there are that many, so the end of a stream is separated with full context too.

Latency: the first sample of each chunk becomes final once the window that starts there has been received, i.e.
after ``chunk + overlap`` samples (``latency_samples`` / ``latency_ms``), plus the model's compute time for one
window (``last_chunk_seconds``; all of them in ``chunk_timings``). Real time needs compute < chunk duration.

Level: every window is scaled so that its peak is at the level the model was trained at (``max|x| = 0.9``,
:func:`fqss_edge.audio.peak_gain`), and its outputs are scaled back, so the sources come out at the input's
level. An int8 model needs this: its input bytes and internal ranges are fixed, and a recording 20 dB below full
scale would use a tenth of the input codes (the shipped tiny FQSS model drops from 4.6 dB SI-SDRi to -2.0 dB
without it, the float model holds: ``benchmarks/results/input_level.md``). Near-silent windows (peak < 1e-4) are
left as they are.
``normalize=False`` hands the samples to the model unchanged.

The output does not depend on how the input is split into ``push`` calls: the offline ``fqss-edge separate``
runs this same class on whole files.

Stereo models (``io_contract.audio_channels`` 2): ``push`` takes [C, n] frames and returns [S * C, m], source-major
(the runtimes' layout); their sources are named stems (drums, bass, ...) in a fixed order, so windows are not
reordered (``align_sources`` is ignored).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from fqss_edge.audio import peak_gain
from fqss_edge.errors import FqssError
from fqss_edge.runtimes.base import Backend
from fqss_edge.runtimes.footprint import check_window


def crossfade_ramp(n: int) -> np.ndarray:
    """The fade-in over ``n`` samples (raised cosine, float64); the fade-out is ``1 - ramp``."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float64) + 0.5) / n)


def best_permutation(previous: np.ndarray, current: np.ndarray) -> tuple[int, ...]:
    """The order of ``current``'s sources ([S, n]) that best matches ``previous`` ([S, n]) on the same samples.

    Maximises the summed inner products (equivalently minimises the squared difference); the identity wins ties,
    so silence never reorders sources. Exhaustive up to 7 sources, greedy beyond.
    """
    p = np.asarray(previous, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    n_src = p.shape[0]
    if n_src < 2 or p.shape[1] == 0:
        return tuple(range(n_src))
    score = p @ c.T  # score[i, j]: previous source i against current source j
    if n_src > 7:
        return _greedy_permutation(score)
    best, best_score = tuple(range(n_src)), float(np.trace(score))
    for perm in itertools.permutations(range(n_src)):
        s = float(score[np.arange(n_src), perm].sum())
        if s > best_score * (1 + 1e-9) + 1e-30:
            best, best_score = perm, s
    return best


def _greedy_permutation(score: np.ndarray) -> tuple[int, ...]:
    n_src = score.shape[0]
    perm = [-1] * n_src
    s = score.copy()
    for _ in range(n_src):
        i, j = np.unravel_index(np.argmax(s), s.shape)
        perm[i] = int(j)
        s[i, :] = -np.inf
        s[:, j] = -np.inf
    return tuple(perm)


class StreamingSeparator:
    """Chunked overlap-add separation of a mono stream at the model's sample rate (see the module docstring).

    ``chunk_seconds``: new audio per model call (the hop); ``overlap_seconds``: audio shared with the previous
    window, cross-faded. Both are rounded to whole model frames (multiples of the model's stride). A model exported
    at one length (``io_contract.fixed_length``) sets the window itself: the overlap is at most half of it
    and the chunk is the rest.
    ``align_sources``: keep the source order consistent across windows (on by default).
    ``normalize``: bring each window to the training level and the outputs back (on by default).
    """

    def __init__(self, backend: Backend, chunk_seconds: float = 4.0, overlap_seconds: float = 0.5,
                 align_sources: bool = True, normalize: bool = True):
        self.backend = backend
        c = backend.io_contract
        self.sample_rate = int(c.sample_rate)
        self.n_src = int(c.n_src)
        self.channels = int(c.audio_channels)
        self.rows = int(c.output_channels)  # output rows: n_src, or n_src * channels (source-major)
        self.source_names = tuple(c.source_names)
        if not (chunk_seconds > 0 and math.isfinite(chunk_seconds)):
            raise FqssError(f"chunk length must be a finite number > 0 seconds, not {chunk_seconds}")
        if not (0 <= overlap_seconds and math.isfinite(overlap_seconds)):
            raise FqssError(f"overlap must be a finite number >= 0 seconds, not {overlap_seconds}")
        stride = max(int(c.stride), 1)
        self.chunk_samples = max(_round_to(chunk_seconds * self.sample_rate, stride), stride)
        self.overlap_samples = _round_to(overlap_seconds * self.sample_rate, stride)
        if self.overlap_samples > self.chunk_samples:
            raise FqssError(f"overlap ({overlap_seconds} s) must not be longer than the chunk ({chunk_seconds} s)")
        if c.fixed_length:  # a model exported at one length: its windows are that long, whatever chunk was asked
            self.overlap_samples = min(self.overlap_samples, c.fixed_length // 2 // stride * stride)
            self.chunk_samples = c.fixed_length - self.overlap_samples
        self.window_samples = self.chunk_samples + self.overlap_samples
        check_window(backend, self.window_samples, f"chunk {chunk_seconds:g} s + overlap {overlap_seconds:g} s")
        self.align_sources = align_sources and self.channels == 1
        self.normalize = normalize
        self.gains: list[float] = []  # the level factor applied to each window (1.0 with normalize=False)
        self._fade_in = crossfade_ramp(self.overlap_samples)
        self.chunk_timings: list[float] = []
        self.permutations: list[tuple[int, ...]] = []
        self.reset()

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: samples to receive before the first sample of a chunk is final (chunk + overlap)."""
        return self.window_samples

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.sample_rate

    @property
    def chunk_duration_seconds(self) -> float:
        """Audio duration that each model call adds (the hop): the real-time budget for one window's compute."""
        return self.chunk_samples / self.sample_rate

    @property
    def last_chunk_seconds(self) -> float | None:
        """Measured compute time of the latest window (model call + alignment), or None before the first."""
        return self.chunk_timings[-1] if self.chunk_timings else None

    # -- streaming -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream (keeps the timings)."""
        # [C, n] input from the start of the latest window (or of the stream)
        self._buf = np.zeros((self.channels, 0), dtype=np.float32)
        self._ahead = 0  # samples of _buf before the next window (the hop already consumed by the latest window)
        self._tail: np.ndarray | None = None  # [S, overlap] latest window's output on the next window's samples
        self.samples_in = 0
        self.samples_out = 0

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Append float32 samples ([n] mono, [C, n] for a C-channel model; model rate, [-1, 1)); return the newly
        final outputs [S, m] ([S * C, m])."""
        x = np.asarray(frames, dtype=np.float32)
        if self.channels == 1 and x.ndim != 1:
            raise FqssError(f"push needs mono frames [n], got shape {x.shape}")
        if self.channels > 1 and (x.ndim != 2 or x.shape[0] != self.channels):
            raise FqssError(f"push needs [{self.channels}, n] frames ({self.channels} channels), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise FqssError("push: frames contain NaN or Inf samples")
        x = x.reshape(self.channels, -1)
        self._buf = np.concatenate([self._buf, x], axis=1) if self._buf.size else x.copy()
        self.samples_in += x.shape[1]
        out = []
        while self._buf.shape[1] - self._ahead >= self.window_samples:
            window = self._buf[:, self._ahead:self._ahead + self.window_samples]
            out.append(self._emit(self._run(window), last=False))
            self._buf = self._buf[:, self._ahead:]
            self._ahead = self.chunk_samples
        return self._collect(out)

    def flush(self) -> np.ndarray:
        """Separate what is left and return it [S, m]; the separator is then reset for a new stream."""
        rest = self._buf.shape[1] - self._ahead
        out = []
        if rest > 0:
            if self._tail is None:  # the whole stream is shorter than one window
                y = self._run(self._buf)
            else:  # the last window_samples of the stream (full context), of which the last `rest` are new
                y = self._run(self._buf[:, -self.window_samples:], self.window_samples - rest)[:, -rest:]
            out.append(self._emit(y, last=True))
        result = self._collect(out)
        self.reset()
        return result

    # -- internals -------------------------------------------------------------------------------------------
    def _run(self, window: np.ndarray, tail_at: int = 0) -> np.ndarray:
        """The model on one window, sources aligned to the previous tail (which covers the window's samples from
        ``tail_at`` on)."""
        t0 = time.perf_counter()
        g = peak_gain(window) if self.normalize else 1.0
        x = window[0] if self.channels == 1 else window  # [C, n] -> the backend's [n] (mono) or [C, n]
        y = np.asarray(self.backend.run(x * np.float32(g) if g != 1.0 else x), dtype=np.float32)
        n = window.shape[1]
        if y.shape != (self.rows, n):
            raise FqssError(f"{getattr(self.backend, 'name', 'backend')}: returned shape {y.shape} for a window "
                            f"of {n} samples, expected {(self.rows, n)}")
        if g != 1.0:
            y = y / np.float32(g)
        self.gains.append(g)
        if self.align_sources and self._tail is not None and self.overlap_samples:
            perm = best_permutation(self._tail, y[:, tail_at:tail_at + self.overlap_samples])
            if perm != tuple(range(self.n_src)):
                y = y[list(perm)]
            self.permutations.append(perm)
        self.chunk_timings.append(time.perf_counter() - t0)
        return y

    def _emit(self, y: np.ndarray, last: bool) -> np.ndarray:
        """Cross-fade ``y`` (a window's output, aligned) with the previous tail; return the final part."""
        o, h = self.overlap_samples, self.chunk_samples
        if self._tail is not None and o:
            head = (self._tail.astype(np.float64) * (1.0 - self._fade_in)
                    + y[:, :o].astype(np.float64) * self._fade_in).astype(np.float32)
            y = np.concatenate([head, y[:, o:]], axis=1)
        if last:
            self._tail = None
            return y
        self._tail = y[:, h:].copy()
        return y[:, :h]

    def _collect(self, parts: list[np.ndarray]) -> np.ndarray:
        out = np.concatenate(parts, axis=1) if parts else np.zeros((self.rows, 0), dtype=np.float32)
        self.samples_out += out.shape[1]
        return out


def _round_to(x: float, step: int) -> int:
    return int(round(x / step)) * step


__all__ = ["StreamingSeparator", "best_permutation", "crossfade_ramp"]
