"""Streaming resampling with soxr (``ResampleStream``: same output as a one-shot ``soxr.resample``)."""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    """[n, channels] float32 blocks from ``in_rate`` to ``out_rate``; a pass-through when the rates are equal."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, quality: str = "HQ"):
        self.channels = channels
        self._rs = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, channels,
                                                                        dtype="float32", quality=quality)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(block, dtype=np.float32)
        return x if self._rs is None else self._rs.resample_chunk(x, last=False)

    def finish(self) -> np.ndarray:
        """The resampler's last samples (call once at the end of the stream)."""
        if self._rs is None:
            return np.zeros((0, self.channels), dtype=np.float32)
        return self._rs.resample_chunk(np.zeros((0, self.channels), dtype=np.float32), last=True)
