"""One audio file per source (wav, flac or mp3), written incrementally to temp files and renamed into place only
when all are complete."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf

from fqss_edge.errors import FqssError
from fqss_edge.fileio import temp_beside

_PCM_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
WAV_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
# output formats: libsndfile's container name and the sample formats it holds (mp3: libsndfile's bundled LAME)
FORMATS = {"wav": ("WAV", WAV_SUBTYPES), "flac": ("FLAC", ("PCM_16", "PCM_24")), "mp3": ("MP3", ("MPEG_LAYER_III",))}


def output_subtype(input_subtype: str, fmt: str = "wav") -> str:
    """The input's sample format when the output format can hold it (wav: PCM 16/24/32, float), else its first
    (16-bit PCM; mp3: layer III)."""
    held = FORMATS[fmt][1]
    return input_subtype if input_subtype in held else held[0]


class AtomicWavSet:
    """``with AtomicWavSet(paths, sr, channels, length) as w: w.write(key, block) ...; w.commit()``.

    Each output gets exactly ``length`` frames: extra frames are dropped, missing ones are zeros at ``commit``.
    Leaving the block without ``commit`` (an error, Ctrl-C) deletes the temp files: no partial outputs.
    """

    def __init__(self, paths: dict[str, Path], sample_rate: int, channels: int, length: int,
                 subtype: str = "PCM_16", fmt: str = "wav"):
        self.paths = {k: Path(p) for k, p in paths.items()}
        self.sample_rate, self.channels, self.length, self.subtype = sample_rate, channels, length, subtype
        self.container = FORMATS[fmt][0]
        bits = _PCM_BITS.get(subtype)
        self._clip = (None if subtype in ("FLOAT", "DOUBLE") else
                      (-1.0, 1.0 - 2.0 ** (1 - (bits or 16))))  # mp3: the 16-bit range
        self._files: dict[str, sf.SoundFile] = {}
        self._tmp: dict[str, Path] = {}
        self.written = {k: 0 for k in self.paths}

    def __enter__(self) -> "AtomicWavSet":
        try:
            for key, p in self.paths.items():
                tmp = temp_beside(p)
                self._tmp[key] = tmp
                self._files[key] = sf.SoundFile(tmp, "w", self.sample_rate, self.channels, self.subtype,
                                                format=self.container)
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


def pick_format(fmt: str, flac: bool = False, mp3: bool = False) -> str:
    """``--format``, or demucs' ``--flac`` / ``--mp3`` (one of them, and not against another ``--format``)."""
    flags = [f for f, on in (("flac", flac), ("mp3", mp3)) if on]
    if len(flags) > 1 or (flags and fmt not in ("wav", flags[0])):
        raise FqssError(f"choose one output format: --format {fmt}" + "".join(f", --{f}" for f in flags))
    return flags[0] if flags else fmt


def pick_subtype(subtype: str | None, int24: bool = False, float32: bool = False) -> str | None:
    """``--subtype``, or demucs' ``--int24`` (PCM_24) / ``--float32`` (FLOAT)."""
    flags = [s for s, on in (("PCM_24", int24), ("FLOAT", float32)) if on]
    if len(flags) > 1 or (flags and subtype not in (None, flags[0])):
        named = ([f"--subtype {subtype}"] if subtype else []) + [f for f, on in (("--int24", int24),
                                                                               ("--float32", float32)) if on]
        raise FqssError(f"choose one output sample format: {', '.join(named)}")
    return flags[0] if flags else subtype
