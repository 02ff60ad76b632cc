"""Atomic file writes: a temporary file next to the target, then ``os.replace``; nothing half-written is left.

    with atomic_write(path) as tmp:      # a path in the target's folder (hidden, ``.tmp`` suffix)
        sf.write(tmp, ...)               # anything that writes a file by name
    atomic_write_bytes(path, data)       # bytes, flushed to disk before the rename
    with output_folder(out) as d:        # -o checked (one line), created, removed again if the command fails
        ...
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from fqss_edge.errors import FqssError


def temp_beside(path: str | os.PathLike) -> Path:
    """A fresh hidden temporary file name in ``path``'s folder (the folder is created, the file is not).

    The caller records the name, then creates the file by writing it (with the mode the umask gives, as ``open``
    does): a signal can land anywhere and the recorded name still covers every file that exists."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p.parent / f".{p.name}.{secrets.token_hex(8)}.tmp"


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


_SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_output_folder(path: str | os.PathLike) -> Path:
    """``FqssError`` (one line) unless ``path`` is, or can be made, a writable folder of ours: not a file, not
    under a file, not in /proc, /sys or /dev, and its nearest existing folder writable."""
    p = Path(path)
    resolved = p.resolve()
    if any(resolved == s or s in resolved.parents for s in _SYSTEM_FOLDERS):
        raise FqssError(f"{p}: a system folder ({resolved}), not an output folder")
    if p.exists() and not p.is_dir():
        raise FqssError(f"{p}: exists and is not a folder (-o names the output folder)")
    existing = next(a for a in (resolved, *resolved.parents) if a.exists())
    if not existing.is_dir():
        raise FqssError(f"{p}: cannot be created, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FqssError(f"{p}: cannot write there ({existing} is not writable)")
    return p


@contextlib.contextmanager
def output_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Check and create the output folder ``path``; if the block fails (an error, Ctrl-C, SIGTERM), the folders
    it created are removed again when empty, so a failed command leaves no empty folder behind."""
    p = check_output_folder(path)
    resolved = p.resolve()
    created = [a for a in (resolved, *resolved.parents) if not a.exists()]
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FqssError(f"{p}: cannot create the output folder ({e.strerror or type(e).__name__})") from None
    try:
        yield p
    except BaseException:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
