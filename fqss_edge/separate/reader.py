"""Reading the input in blocks (constant memory), with one-line errors naming the file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from fqss_edge.errors import FqssError


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    subtype: str

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def probe(path: str | Path) -> AudioInfo:
    """Open the header: ``FqssError`` for a missing, non-audio, unsupported or empty file."""
    p = Path(path)
    if not p.is_file():
        raise FqssError(f"{p}: no such file")
    try:
        with sf.SoundFile(str(p)) as f:
            info = AudioInfo(p, int(f.samplerate), int(f.channels), int(f.frames), str(f.subtype))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise FqssError(f"{p}: not a readable audio file ({_one_line(e)})") from None
    if info.frames <= 0 or info.channels <= 0:
        raise FqssError(f"{p}: empty audio file (no samples)")
    return info


def read_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """float32 blocks [n, channels]; ``FqssError`` (with the time) at the first NaN/Inf or read error."""
    done = 0
    try:
        with sf.SoundFile(str(info.path)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    bad = done + int(np.argmax(~np.isfinite(block).all(axis=1)))
                    raise FqssError(f"{info.path}: audio contains NaN or Inf samples "
                                    f"(first at {bad / info.sample_rate:.3f} s)")
                done += block.shape[0]
                yield block
    except (sf.LibsndfileError, RuntimeError) as e:
        raise FqssError(f"{info.path}: read error after {done} frames ({_one_line(e)})") from None
    if done == 0:
        raise FqssError(f"{info.path}: empty audio file (no samples)")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
