"""Self-describing, safe checkpoints.

A checkpoint is one ``.safetensors`` file: the model's tensors, and in the safetensors metadata (string → string)

- ``fqss_edge.format``  ``checkpoint/1`` (or ``optimizer/1`` for the optimizer sibling file)
- ``fqss_edge.version`` the fqss-edge version that wrote it
- ``fqss_edge.config``  JSON of the run config (``model``, ``quant``, ``train``, ``data``)
- ``fqss_edge.meta``    JSON of the training state summary (method, epoch, best metric, ...)
- ``fqss_edge.quant_revision`` the revision of the quantized semantics it was written under
  (:mod:`fqss_edge.quant.revision`; absent in older checkpoints: revision 1), read back as ``meta["quant_revision"]``
- ``fqss_edge.sha256``  SHA-256 of everything else (tensor table, metadata, data): a flipped byte is caught

Optimizer/scheduler state for resuming goes in a sibling ``<name>.optim.safetensors``: nested state dicts are
flattened by :func:`flatten_state` (tensors → safetensors, everything else → JSON with ``{"T": key}`` placeholders).

Loading never runs pickled code: ``.safetensors`` holds no code, and ``.pth``/``.pt`` state dicts (FQSS / PyTorch)
go through ``torch.load(..., weights_only=True)``. Files are written atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch.torch_version import TorchVersion

from fqss_edge import __version__
from fqss_edge.errors import FqssError
from fqss_edge.fileio import atomic_write_bytes
from fqss_edge.quant.revision import METADATA_KEY as QUANT_REVISION_KEY
from fqss_edge.quant.revision import QUANT_REVISION

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "save_optimizer_state", "load_optimizer_state",
           "flatten_state", "unflatten_state", "read_torch_file", "unwrap_state_dict"]

CHECKPOINT_FORMAT = "checkpoint/1"
OPTIMIZER_FORMAT = "optimizer/1"
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")  # FQSS / Lightning style {"state_dict": {...}, ...}


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)  # run config; {} for bare .pth state dicts
    meta: dict[str, Any] = field(default_factory=dict)  # training summary (+ "fqss_edge_version")


# -- writing ----------------------------------------------------------------------------------------------------


def _to_dict(run_config: Any) -> dict[str, Any]:
    if hasattr(run_config, "model_dump"):
        return run_config.model_dump(mode="json")
    return dict(run_config)


def _json(obj: Any, what: str, path: Path) -> str:
    try:
        return json.dumps(obj, sort_keys=True, default=lambda o: str(o) if isinstance(o, Path) else _unjsonable(o))
    except (TypeError, ValueError) as e:
        raise FqssError(f"{path}: cannot store {what} ({e})") from None


def _unjsonable(o: Any) -> Any:
    if isinstance(o, torch.Tensor) and o.numel() == 1:
        return o.item()
    if hasattr(o, "item") and callable(o.item):  # numpy scalars
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _cpu_tensors(tensors: Mapping[str, Any], path: Path) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise FqssError(f"{path}: cannot save '{name}': {type(t).__name__} is not a tensor")
        # clone: safetensors refuses tensors that share storage (views, tied weights)
        out[str(name)] = t.detach().to("cpu").contiguous().clone()
    return out


def _serialise(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    body = safetensors.torch.save(tensors, metadata=metadata)
    header = json.loads(body[8:8 + int.from_bytes(body[:8], "little")])
    return safetensors.torch.save(tensors, metadata={**metadata, "fqss_edge.sha256": _digest(header, body)})


def save_checkpoint(path: str | Path, state_dict: Mapping[str, torch.Tensor], run_config: Any,
                    meta: Mapping[str, Any]) -> Path:
    """Write ``state_dict`` + run config + training summary to one ``.safetensors`` file, atomically.

    ``run_config`` is the run config as a dict (or a ``RunConfig``); ``meta`` e.g. ``{"method": "fqss",
    "epoch": 12, "best_si_sdri": 14.2}``. Returns the path written."""
    p = Path(path)
    metadata = {
        "format": "pt",
        "fqss_edge.format": CHECKPOINT_FORMAT,
        "fqss_edge.version": __version__,
        "fqss_edge.config": _json(_to_dict(run_config), "the run config", p),
        "fqss_edge.meta": _json(dict(meta), "the checkpoint meta", p),
        QUANT_REVISION_KEY: str(QUANT_REVISION),
    }
    atomic_write_bytes(p, _serialise(_cpu_tensors(state_dict, p), metadata))
    return p


# -- reading ----------------------------------------------------------------------------------------------------


def _reason(e: BaseException) -> str:
    """First sentence of an exception message (torch's zip errors run to several)."""
    text = (str(e).splitlines() or [type(e).__name__])[0]
    return text.split(". ")[0][:160]


def _digest(header: dict[str, Any], blob: bytes) -> str:
    """SHA-256 of the header (tensor table and metadata, without the digest itself) and of the tensor data."""
    header = dict(header)
    metadata = {k: v for k, v in (header.pop("__metadata__", None) or {}).items() if k != "fqss_edge.sha256"}
    canonical = json.dumps({"tensors": header, "metadata": metadata}, sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(canonical.encode())
    h.update(memoryview(blob)[8 + int.from_bytes(blob[:8], "little"):])
    return h.hexdigest()


def _read_safetensors(p: Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; ``FqssError`` if missing, truncated, corrupt or foreign."""
    try:
        blob = p.read_bytes()
    except FileNotFoundError:
        raise FqssError(f"{p}: no such file") from None
    except OSError as e:
        raise FqssError(f"{p}: cannot read ({e.strerror or e})") from None
    if len(blob) < 8:
        raise FqssError(f"{p}: not a checkpoint (file is {len(blob)} bytes: empty or truncated)")
    n = int.from_bytes(blob[:8], "little")
    if blob[8:9] != b"{":
        raise FqssError(f"{p}: not a checkpoint (not a safetensors file)")
    if n > len(blob) - 8:
        raise FqssError(f"{p}: truncated or corrupt checkpoint (header of {n} bytes, file of {len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + n])
        tensors = safetensors.torch.load(blob)
    except Exception as e:  # SafetensorError, JSON errors
        raise FqssError(f"{p}: truncated or corrupt checkpoint ({_reason(e)})") from None
    metadata = header.get("__metadata__") or {}
    fmt = metadata.get("fqss_edge.format")
    if fmt is not None and fmt != expected_format:
        raise FqssError(f"{p}: is a fqss-edge '{fmt}' file, not a '{expected_format}' file")
    digest = metadata.get("fqss_edge.sha256")
    if fmt is not None and digest is None:  # fqss-edge has always written one: a corrupt or edited key
        raise FqssError(f"{p}: corrupt checkpoint (its fqss-edge metadata has no SHA-256)")
    if digest is not None and _digest(header, blob) != digest:
        raise FqssError(f"{p}: corrupt checkpoint (contents do not match the stored SHA-256)")
    return tensors, metadata


def _json_field(p: Path, metadata: dict[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(metadata.get(key, "{}"))
    except json.JSONDecodeError:
        raise FqssError(f"{p}: corrupt checkpoint metadata ({key} is not valid JSON)") from None
    if not isinstance(value, dict):
        raise FqssError(f"{p}: corrupt checkpoint metadata ({key} is not a mapping)")
    return value


def unwrap_state_dict(p: Path, obj: Any) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise FqssError(f"{p}: not a checkpoint (expected a state dict of tensors, found {type(obj).__name__})")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise FqssError(f"{p}: not a state dict ('{bad[0]}' is a {type(obj[bad[0]]).__name__}, not a tensor)")
    sd = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in sd):  # saved from DistributedDataParallel
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
    return sd


def read_torch_file(path: str | Path) -> Any:
    """What ``torch.save`` wrote, read with ``weights_only=True``: tensors, containers and plain values, never
    pickled code. ``TorchVersion`` (a ``str`` subclass: the ``torch_version`` that asteroid's ``serialize()``
    records) is the one class allowed beyond torch's defaults. ``FqssError`` naming the file otherwise."""
    p = Path(path)
    if not p.is_file():
        raise FqssError(f"{p}: no such file")
    try:
        with torch.serialization.safe_globals([TorchVersion]):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():  # a class or function the pickle would import and call
            raise FqssError(f"{p}: refusing to load pickled code (the file holds more than tensors; "
                            "only plain state dicts are accepted)") from None
        if "weights only" in str(e).lower():
            raise FqssError(f"{p}: not a checkpoint (not a PyTorch file of tensors)") from None
        raise FqssError(f"{p}: truncated or corrupt checkpoint ({_reason(e)})") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as e:
        raise FqssError(f"{p}: truncated or corrupt checkpoint ({_reason(e)})") from None


def _load_torch(p: Path) -> Checkpoint:
    return Checkpoint(unwrap_state_dict(p, read_torch_file(p)), config={}, meta={})


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint without running any pickled code.

    ``.safetensors``: ours (config and meta filled in) or a foreign state dict (config ``{}``).
    ``.pth``/``.pt``/``.bin``/``.ckpt``: a PyTorch state dict, optionally wrapped in ``{"state_dict": ...}``; its
    config is ``{}``, so callers need the run config from elsewhere (``--config``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return _load_torch(p)
    if suffix != ".safetensors":
        if not p.exists():
            raise FqssError(f"{p}: no such file")
        raise FqssError(f"{p}: not a checkpoint (expected .safetensors, or a state dict in "
                        f"{'/'.join(TORCH_SUFFIXES)})")
    tensors, metadata = _read_safetensors(p, CHECKPOINT_FORMAT)
    config = _json_field(p, metadata, "fqss_edge.config")
    meta = _json_field(p, metadata, "fqss_edge.meta")
    if "fqss_edge.version" in metadata:
        meta.setdefault("fqss_edge_version", metadata["fqss_edge.version"])
    if "fqss_edge.format" in metadata:  # ours: written before revisions were recorded = revision 1
        revision = metadata.get(QUANT_REVISION_KEY, "1")
        if not revision.isdigit():
            raise FqssError(f"{p}: corrupt checkpoint metadata ({QUANT_REVISION_KEY} is {revision!r})")
        meta["quant_revision"] = int(revision)
    return Checkpoint(tensors, config, meta)


# -- optimizer state ---------------------------------------------------------------------------------------------


def flatten_state(state: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (e.g. ``{"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}``) into
    flat tensors and a JSON-able skeleton.

    Skeleton encoding: dict → ``{"d": [[key, value], ...]}`` (keeps int keys, e.g. Adam's parameter ids),
    list → ``{"l": [...]}``, tuple → ``{"t": [...]}``, tensor → ``{"T": "<n>"}``, scalars as they are."""
    tensors: dict[str, torch.Tensor] = {}

    def enc(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            key = str(len(tensors))
            tensors[key] = x
            return {"T": key}
        if isinstance(x, Mapping):
            for k in x:
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise TypeError(f"dict key {k!r} ({type(k).__name__}) cannot be stored")
            return {"d": [[k, enc(v)] for k, v in x.items()]}
        if isinstance(x, list):
            return {"l": [enc(v) for v in x]}
        if isinstance(x, tuple):
            return {"t": [enc(v) for v in x]}
        if x is None or isinstance(x, (str, bool, int, float)):
            return x
        if hasattr(x, "item") and callable(x.item):  # numpy scalars
            return x.item()
        raise TypeError(f"{type(x).__name__} values cannot be stored")

    return tensors, enc(state)


def unflatten_state(tensors: Mapping[str, torch.Tensor], skeleton: Any) -> Any:
    """Inverse of :func:`flatten_state`."""

    def dec(x: Any) -> Any:
        if isinstance(x, dict):
            (tag, v), = x.items()
            if tag == "T":
                return tensors[v]
            if tag == "d":
                return {k: dec(item) for k, item in v}
            return [dec(item) for item in v] if tag == "l" else tuple(dec(item) for item in v)
        return x

    return dec(skeleton)


def save_optimizer_state(path: str | Path, state: Any) -> Path:
    """Write optimizer/scheduler state for resuming (``<name>.optim.safetensors`` next to the checkpoint)."""
    p = Path(path)
    try:
        tensors, skeleton = flatten_state(state)
    except TypeError as e:
        raise FqssError(f"{p}: cannot store optimizer state ({e})") from None
    metadata = {
        "format": "pt",
        "fqss_edge.format": OPTIMIZER_FORMAT,
        "fqss_edge.version": __version__,
        "fqss_edge.state": json.dumps(skeleton),
    }
    atomic_write_bytes(p, _serialise(_cpu_tensors(tensors, p), metadata))
    return p


def load_optimizer_state(path: str | Path) -> Any:
    """Read what :func:`save_optimizer_state` wrote (tensors on the CPU)."""
    p = Path(path)
    tensors, metadata = _read_safetensors(p, OPTIMIZER_FORMAT)
    if metadata.get("fqss_edge.format") != OPTIMIZER_FORMAT or "fqss_edge.state" not in metadata:
        raise FqssError(f"{p}: not a fqss-edge optimizer state file")
    try:
        skeleton = json.loads(metadata["fqss_edge.state"])
        return unflatten_state(tensors, skeleton)
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as e:
        raise FqssError(f"{p}: corrupt optimizer state ({e})") from None
