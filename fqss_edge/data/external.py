"""External command-line tools used to build data sets offline (espeak-ng, flite, sox, dpkg-deb)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from fqss_edge.errors import FqssError


def require_tool(name: str, package: str | None = None) -> str:
    """The path of ``name`` on PATH, or an error saying which Debian package provides it."""
    path = shutil.which(name)
    if path is None:
        pkg = package or name
        raise FqssError(f"{name}: not found on PATH (install the Debian package '{pkg}': apt-get install {pkg})")
    return path


def run_tool(cmd: list[str], timeout: float = 60, cwd: str | Path | None = None) -> str:
    """Run ``cmd`` (an argument list, never a shell) and return its stdout; a failure is one FqssError line."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FqssError(f"{cmd[0]}: failed to run ({e})") from None
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise FqssError(f"{cmd[0]}: exit status {res.returncode} for {' '.join(cmd[1:3])}: {last}")
    return res.stdout


def trim_silence(x: np.ndarray, floor_db: float = -40.0, margin: int = 400) -> np.ndarray | None:
    """Cut leading/trailing parts below ``floor_db`` relative to the peak, keeping ``margin`` samples; None when
    nothing is above the floor (a silent signal)."""
    peak = float(np.abs(x).max()) if x.size else 0.0
    idx = np.flatnonzero(np.abs(x) > peak * 10 ** (floor_db / 20)) if peak > 0 else np.empty(0, dtype=np.int64)
    if idx.size == 0:
        return None
    return x[max(idx[0] - margin, 0): idx[-1] + margin + 1]
