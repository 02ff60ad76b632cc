"""Memory one model call needs, estimated before the call: a long ``--chunk`` is refused with the estimate
instead of being killed by the kernel half-way (``separate --chunk 36000`` reached 11.9 GB, ``bench`` 24 GB).

The estimate is linear in the window: ``window samples x bytes per sample``, with

    bytes per sample = LIVE_TENSORS x (largest float32 activation of the model, bytes per input sample)
                       + PIPELINE_BYTES (the window, its sources, float64 cross-fade and alignment copies).

The largest activation comes from running the model's float twin on the meta device (shapes only, nothing
allocated) for one second of input; the exporters record it in the file (``ACTIVATION_KEY``), so that a
``.tflite`` / ``.onnx`` run never imports torch for it (importing torch alone costs ~190 MB of RSS); files
exported before it was recorded are estimated from their model config as before. ``LIVE_TENSORS`` = 16 covers
what was measured (peak RSS above the 4-second baseline, separate on a 600 s file with --chunk 300, the tiny test
model: LiteRT 98, onnxruntime 179, PyTorch 256 bytes per window sample; its largest activation is 16 bytes per
sample).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from fqss_edge.errors import FqssError
from fqss_edge.runtimes.base import file_metadata

LIVE_TENSORS = 16
PIPELINE_BYTES = 64
MEMORY_FRACTION = 0.5  # of the machine's RAM, for one model call
ACTIVATION_KEY = "fqss.activation_bytes_per_sample"  # largest float32 activation per input sample, in bytes


def memory_limit() -> int:
    """Bytes one model call may use: half the physical memory (``FQSS_MAX_MEMORY_MB`` overrides)."""
    override = os.environ.get("FQSS_MAX_MEMORY_MB")
    if override:
        try:
            return int(float(override) * 2**20)
        except ValueError:
            raise FqssError(f"FQSS_MAX_MEMORY_MB={override!r}: not a number of megabytes") from None
    return int(MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def model_config_of(backend: Any) -> dict[str, Any] | None:
    """The model config a loaded backend runs (PyTorch model, ONNX or .tflite metadata), or None."""
    model = getattr(backend, "model", None)
    if model is not None and hasattr(model, "config"):
        return model.config.model_dump(mode="json")
    raw = file_metadata(backend, "fqss.model_config")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, dict) else None


def largest_activation_per_sample(model_cfg: dict[str, Any]) -> float:
    """Bytes of the largest float32 activation per input sample of a validated model config's model (what the
    exporters record under ``ACTIVATION_KEY``)."""
    return _largest_activation_per_sample(json.dumps(model_cfg, sort_keys=True))


@functools.lru_cache(maxsize=16)
def _largest_activation_per_sample(config_json: str) -> float:
    """Of a validated model config (its ``model_dump`` as JSON)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    from fqss_edge.models.factory import build_model

    class _Largest(TorchDispatchMode):
        largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.largest = max(self.largest, t.numel() * 4)
            return out

    cfg = json.loads(config_json)
    n = int(cfg["sample_rate"])
    with torch.device("meta"):
        model = build_model(cfg, None)
    mode = _Largest()
    with torch.no_grad(), mode:
        model(torch.zeros(1, int(cfg.get("audio_channels", 1)), n, device="meta"))
    return mode.largest / n


def bytes_per_sample(backend: Any) -> float:
    """Estimated bytes per window sample of one call of ``backend``: from the recorded largest activation of an
    exported file, else from the model config (the default Conv-TasNet's if the model does not say what it is)."""
    recorded = file_metadata(backend, ACTIVATION_KEY)
    try:
        if recorded is not None and float(recorded) > 0:
            return LIVE_TENSORS * float(recorded) + PIPELINE_BYTES
    except (TypeError, ValueError):
        pass  # not a number: estimate from the config as for a file that records nothing
    from fqss_edge.models.factory import model_config

    try:  # what a file says is validated first; a config that does not validate is estimated as the default
        cfg = model_config(model_config_of(backend) or {"name": "convtasnet"})
    except FqssError:
        cfg = model_config({"name": "convtasnet"})
    return LIVE_TENSORS * largest_activation_per_sample(cfg.model_dump(mode="json")) + PIPELINE_BYTES


def check_window(backend: Any, window_samples: int, what: str) -> int:
    """``FqssError`` with the estimate if a call on ``window_samples`` would need more than the memory limit;
    returns the estimate in bytes. ``what`` names the option (``--chunk 36000 s``)."""
    per_sample = bytes_per_sample(backend)
    estimate = int(window_samples * per_sample)
    limit = memory_limit()
    if estimate > limit:
        sr = int(backend.io_contract.sample_rate)
        fits = limit / per_sample / sr
        raise FqssError(f"{what}: one model call on {window_samples / sr:,.0f} s of audio needs about "
                        f"{_size(estimate)} ({per_sample:,.0f} bytes per sample for this model), above the limit of "
                        f"{_size(limit)}; use a chunk of at most {fits:,.0f} s")
    return estimate


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"
