"""Shared fixtures: small generated data in the layouts the package reads, and tiny configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from fqss_edge.audio import write_wav

from fqss_edge.parity.synthetic import TINY_MODEL  # noqa: F401  (re-exported for tests)

SR = 8000


def _voice(rng: np.random.Generator, n: int) -> np.ndarray:
    """A crude voiced 'speaker': harmonics of a random f0 with a syllable-rate envelope."""
    t = np.arange(n) / SR
    f0 = rng.uniform(90, 260)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6))
    return (0.2 * x * env).astype(np.float32)


def make_split(root: Path, n: int, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        s = np.stack([_voice(rng, int(seconds * SR)) for _ in range(2)])
        s *= rng.uniform(0.3, 1.0, size=(2, 1)).astype(np.float32)
        name = f"utt{i:03d}.wav"
        write_wav(root / "s1" / name, s[0], SR)
        write_wav(root / "s2" / name, s[1], SR)
        write_wav(root / "mix" / name, s.sum(0), SR)
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """train/ valid/ test/ folders of 2-source mixtures (mix/ s1/ s2/)."""
    root = tmp_path_factory.mktemp("tiny_data")
    make_split(root / "train", 8, 0.5, 0)
    make_split(root / "valid", 2, 0.4, 1)
    make_split(root / "test", 2, 0.4, 2)
    return root


@pytest.fixture()
def tiny_config(tmp_path, tiny_data) -> Path:
    cfg = {
        "model": TINY_MODEL,
        "quant": {"calib_batches": 2},
        "train": {"epochs": 1, "batch_size": 2, "segment_seconds": 0.25, "early_stop_patience": 5, "seed": 0},
        "data": {k: str(tiny_data / k) for k in ("train", "valid", "test")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


REPO = Path(__file__).resolve().parents[1]
TFLITE214_PYTHON = REPO / ".venv-tflite214" / "bin" / "python"


@pytest.fixture(scope="session")
def tflite214_python() -> Path:
    """The python of ``.venv-tflite214`` (fqss-edge with tflite-runtime 2.14.0 as its only TFLite package, numpy
    < 2; scripts/tflite214_env.sh, run by scripts/setup.sh). The script keeps an environment that passes its probe
    and (re)makes one that does not; skipped only where it cannot be made, and never in CI."""
    import os
    import subprocess

    done = subprocess.run(["bash", str(REPO / "scripts" / "tflite214_env.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["failed"])[-1]
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: scripts/setup.sh should have made .venv-tflite214 ({why})")
        pytest.skip(f"tflite-runtime 2.14 cannot be installed here: {why}")
    return TFLITE214_PYTHON
