"""Atomic file writes: a temporary file next to the target, then ``os.replace``; nothing half-written is left.

    with atomic_write(path) as tmp:      # a path in the target's folder (hidden, ``.tmp`` suffix)
        sf.write(tmp, ...)               # anything that writes a file by name
    atomic_write_bytes(path, data)       # bytes, flushed to disk before the rename
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike) -> Path:
    """A new empty hidden temporary file in ``path``'s folder (created), with the mode the umask gives."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file honours the umask like open() would
    return Path(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``, on any error (or
    KeyboardInterrupt) it is removed and ``path`` is untouched."""
    tmp = temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync'd before the rename)."""
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)
