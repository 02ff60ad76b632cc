"""Models for the app-facing tests (separate, streaming, examples, report): a tiny calibrated FQSS Conv-TasNet
exported to .safetensors, int8 QDQ .onnx and int16-I/O .tflite, plus fake backends whose outputs are known exactly.

Import the fixtures into a test module: ``from tests.app_models import tiny_models  # noqa: F401``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fqss_edge.runtimes.base import IoContract

from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8 as FQSS_QUANT
from fqss_edge.parity.synthetic import TINY_MODEL

SR = 8000


def export_tiny_models(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Build, calibrate and export the tiny model: ``{"checkpoint", "onnx", "tflite"}`` paths in ``out_dir``."""
    import torch

    from fqss_edge.checkpoint import save_checkpoint
    from fqss_edge.export.onnx import export_onnx
    from fqss_edge.export.tflite import export as export_tflite
    from fqss_edge.models import build_model
    from fqss_edge.quant.tools import observation

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_model(TINY_MODEL, FQSS_QUANT)
    with torch.no_grad(), observation(model):
        for k in range(2):
            model(torch.rand(2, 800, generator=torch.Generator().manual_seed(seed + k)) - 0.5)
    model.eval()
    config = {"model": dict(TINY_MODEL, sample_rate=SR), "quant": FQSS_QUANT}
    ckpt = save_checkpoint(out_dir / "model.safetensors", model.state_dict(), config, {"method": "random"})
    export_onnx(model, out_dir / "model.onnx", config=config)
    export_tflite(out_dir / "model.onnx", out_dir / "model.tflite")
    return {"checkpoint": Path(ckpt), "onnx": out_dir / "model.onnx", "tflite": out_dir / "model.tflite"}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    return export_tiny_models(tmp_path_factory.mktemp("tiny_models"))


class FakeBackend:
    """A backend with exactly known outputs, to check chunking, cross-fades and source alignment.

    ``kind``: "signs" -> [max(x, 0), min(x, 0)] (pointwise, so independent of chunking; sums to x);
    "negate" -> [x, -x]; "swap" -> "signs" with the two sources swapped on every other call.
    """

    name = "fake"

    def __init__(self, kind: str = "signs", sample_rate: int = SR, stride: int = 8, kernel_size: int = 16):
        self.kind = kind
        self.calls: list[int] = []
        self.peaks: list[float] = []  # max|x| of every window received
        self._contract = IoContract(sample_rate=sample_rate, n_src=2, stride=stride, kernel_size=kernel_size,
                                    source_names=("pos", "neg"))

    @property
    def io_contract(self) -> IoContract:
        return self._contract

    def load(self, path) -> "FakeBackend":
        return self

    def run(self, waveform: np.ndarray) -> np.ndarray:
        x = np.asarray(waveform, dtype=np.float32)
        self.calls.append(x.size)
        self.peaks.append(float(np.max(np.abs(x))) if x.size else 0.0)
        if self.kind == "negate":
            return np.stack([x, -x])
        y = np.stack([np.maximum(x, 0), np.minimum(x, 0)])
        if self.kind == "swap" and len(self.calls) % 2 == 0:
            y = y[::-1].copy()
        return y


def expected(kind: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if kind == "negate":
        return np.stack([x, -x])
    return np.stack([np.maximum(x, 0), np.minimum(x, 0)])


def noise(n: int, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal(n)).clip(-0.99, 0.99).astype(np.float32)
