"""Runtimes that run exported int8 models (onnxruntime, LiteRT/TFLite) and the PyTorch reference simulation;
installed as ``fqss_edge.runtimes``.

``open_backend(path, **opts)`` picks the backend by file suffix. Every backend follows ``runtimes.base.Backend``:
``load(path)``, ``run(waveform [T]) -> [S, T]``, ``io_contract``, ``name``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fqss_edge.errors import FqssError
from fqss_edge.runtimes.base import Backend, IoContract, SupportsIntermediates

# suffix -> (module, class). The LiteRT backend (runtimes/litert_backend.py, class LiteRtBackend) plugs in here.
BACKENDS: dict[str, tuple[str, str]] = {
    ".onnx": ("fqss_edge.runtimes.onnxruntime_backend", "OnnxRuntimeBackend"),
    ".safetensors": ("fqss_edge.runtimes.torch_backend", "TorchBackend"),
    ".pth": ("fqss_edge.runtimes.torch_backend", "TorchBackend"),
    ".pt": ("fqss_edge.runtimes.torch_backend", "TorchBackend"),
    ".tflite": ("fqss_edge.runtimes.litert_backend", "LiteRtBackend"),
}


def backend_class(path: str | Path) -> type:
    suffix = Path(path).suffix.lower()
    if suffix not in BACKENDS:
        raise FqssError(f"{path}: no runtime for '{suffix or 'no suffix'}' files "
                        f"(supported: {', '.join(sorted(BACKENDS))})")
    module, cls = BACKENDS[suffix]
    try:
        return getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as e:
        raise FqssError(f"{path}: the runtime for '{suffix}' files is not available ({e})") from None


def open_backend(path: str | Path, **opts: Any) -> Backend:
    """Create the backend for ``path`` (options are the backend's constructor arguments) and load the model."""
    return backend_class(path)(**opts).load(path)


__all__ = ["BACKENDS", "Backend", "IoContract", "SupportsIntermediates", "backend_class", "open_backend"]
