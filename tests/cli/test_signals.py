"""Ctrl-C (SIGINT) and SIGTERM in the middle of ``separate`` and ``export``: one line, no temporary file or staging
folder left behind, and the program ends by the signal it got (a shell shows 130 / 143); real subprocesses, signalled
while they write, started both ways: ``python -m fqss_edge.cli.main`` and the ``fqss-edge`` console script."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.app_models import tiny_models  # noqa: F401

SIGNALS = [signal.SIGINT, signal.SIGTERM]
LAUNCHERS = {"module": [sys.executable, "-m", "fqss_edge.cli.main"],
             "script": [str(Path(sys.executable).parent / "fqss-edge")]}
LAST_LINE = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


def _signal_while_writing(launcher: str, args: list[str], out: Path, sig: signal.Signals) -> tuple[int, str]:
    """Start ``fqss-edge args``, wait until something appears in ``out`` (it is writing), then send ``sig``.
    The child starts with SIGINT at its default action, as from a terminal: a suite run in the background (``cmd
    &``, nohup) would hand down an ignored SIGINT, which Python keeps ignored."""
    proc = subprocess.Popen([*LAUNCHERS[launcher], *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not (out.is_dir() and any(out.iterdir())):
        time.sleep(0.005)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_separate_interrupted(sig, launcher, tiny_models, tmp_path):  # noqa: F811
    wav = tmp_path / "long.wav"
    sf.write(wav, (0.1 * np.random.default_rng(0).standard_normal(8000 * 300)).astype(np.float32), 8000)
    out = tmp_path / "out"
    code, err = _signal_while_writing(launcher, ["separate", str(wav), "--model", str(tiny_models["tflite"]),
                                                 "-o", str(out)], out, sig)
    assert code == -sig, err  # ended by the signal (after the clean-up below), not by a normal exit
    assert err.strip().splitlines()[-1] == LAST_LINE[sig]
    assert not out.exists()  # no temporary file, and not the folder the command created


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_export_interrupted(sig, launcher, tiny_models, tmp_path):  # noqa: F811
    out = tmp_path / "exported"
    code, err = _signal_while_writing(launcher, ["export", str(tiny_models["checkpoint"]), "--int8", "-o", str(out)],
                                      out, sig)
    assert code == -sig, err
    assert err.strip().splitlines()[-1] == LAST_LINE[sig]
    assert not out.exists()  # no staging folder, and not the folder the command created
