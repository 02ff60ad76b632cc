"""One wav per source, written incrementally to temp files and renamed into place only when all are complete."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf

from fqss_edge.fileio import temp_beside

_PCM_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
WAV_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")


def output_subtype(input_subtype: str) -> str:
    """The input's sample format when a WAV can hold it (PCM 16/24/32, float), else 16-bit PCM."""
    return input_subtype if input_subtype in WAV_SUBTYPES else "PCM_16"


class AtomicWavSet:
    """``with AtomicWavSet(paths, sr, channels, length) as w: w.write(key, block) ...; w.commit()``.

    Each output gets exactly ``length`` frames: extra frames are dropped, missing ones are zeros at ``commit``.
    Leaving the block without ``commit`` (an error, Ctrl-C) deletes the temp files: no partial outputs.
    """

    def __init__(self, paths: dict[str, Path], sample_rate: int, channels: int, length: int,
                 subtype: str = "PCM_16"):
        self.paths = {k: Path(p) for k, p in paths.items()}
        self.sample_rate, self.channels, self.length, self.subtype = sample_rate, channels, length, subtype
        bits = _PCM_BITS.get(subtype)
        self._clip = None if bits is None else (-1.0, 1.0 - 2.0 ** (1 - bits))
        self._files: dict[str, sf.SoundFile] = {}
        self._tmp: dict[str, Path] = {}
        self.written = {k: 0 for k in self.paths}

    def __enter__(self) -> "AtomicWavSet":
        try:
            for key, p in self.paths.items():
                tmp = temp_beside(p)
                self._tmp[key] = tmp
                self._files[key] = sf.SoundFile(tmp, "w", self.sample_rate, self.channels, self.subtype,
                                                format="WAV")
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, key: str, block: np.ndarray) -> None:
        """Append [n, channels] float frames (clipped to the PCM range; cut at ``length``)."""
        room = self.length - self.written[key]
        b = np.asarray(block)[: max(room, 0)]
        if b.shape[0] == 0:
            return
        if self._clip is not None:
            b = np.clip(b, *self._clip)
        self._files[key].write(b)
        self.written[key] += b.shape[0]

    def finish(self) -> None:
        """Pad every output to ``length`` and close the temp files (still under their temporary names)."""
        for key in self.paths:
            missing = self.length - self.written[key]
            if missing > 0:
                self.write(key, np.zeros((missing, self.channels), dtype=np.float32))
        for f in self._files.values():
            f.close()

    def commit(self) -> dict[str, Path]:
        """``finish``, then rename all temp files into place."""
        self.finish()
        for key, p in self.paths.items():
            os.replace(self._tmp[key], p)
        self._tmp.clear()
        return dict(self.paths)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._discard()

    def _discard(self) -> None:
        for f in self._files.values():
            if not f.closed:
                f.close()
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)
        self._tmp.clear()
