"""Fingerprints that tie an export to its checkpoint, and integrity hashes of exported weights.

- ``checkpoint_fingerprint``: SHA-256 of a loaded model's tensors (name, dtype, shape, bytes, in key order) and
  of its model and quant config. ``export`` writes it into the metadata (``fqss.checkpoint_fingerprint``, also
  inside the .tflite's ``onnx_metadata``); ``parity CKPT MODEL`` refuses a MODEL exported from another checkpoint.
- ``onnx_weights_sha256`` / ``tflite_weights_sha256``: SHA-256 of the exported constants (ONNX initializers;
  .tflite buffers other than metadata). Written at export (``fqss.weights_sha256``; ``weights_sha256`` in the
  .tflite entry), checked by ``info`` and on load; an export written before these fields loads as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from fqss_edge.errors import FqssError

__all__ = ["checkpoint_fingerprint", "onnx_weights_sha256", "tflite_weights_sha256", "check_digest"]

FINGERPRINT_KEY = "fqss.checkpoint_fingerprint"
ONNX_WEIGHTS_KEY = "fqss.weights_sha256"
TFLITE_WEIGHTS_KEY = "weights_sha256"


def _digest(items: Iterable[tuple[str, str, Any, bytes]]) -> str:
    h = hashlib.sha256()
    for name, dtype, shape, data in items:
        head = json.dumps([name, dtype, list(shape), len(data)]).encode()
        h.update(len(head).to_bytes(8, "little") + head)
        h.update(data)
    return h.hexdigest()


def checkpoint_fingerprint(state: Mapping[str, Any], model_config: Any, quant_config: Any) -> str:
    """Of a model's ``state_dict()`` and its (JSON-able) model and quant configs."""
    config = json.dumps({"model": model_config, "quant": quant_config}, sort_keys=True).encode()
    tensors = ((k, str(t.dtype), tuple(t.shape), t.detach().cpu().contiguous().numpy().tobytes())
               for k, t in sorted(state.items()))
    return _digest([("config", "json", (), config), *tensors])


def onnx_weights_sha256(proto: Any) -> str:
    """Of the graph's initializers (as stored: name, data type, dims, raw bytes or typed values)."""
    from onnx import numpy_helper

    return _digest((i.name, str(i.data_type), tuple(i.dims), numpy_helper.to_array(i).tobytes())
                   for i in proto.graph.initializer)


def tflite_weights_sha256(buffers: Iterable[bytes]) -> str:
    """Of a .tflite's buffers in index order, metadata buffers left out by the caller."""
    return _digest((str(k), "u8", (), b) for k, b in enumerate(buffers))


def check_digest(stored: Any, actual: str, source: str) -> str:
    """"verified" or "no integrity hash" (an export written before the field); ``FqssError`` if it differs."""
    if stored is None:
        return "no integrity hash"
    if stored != actual:
        raise FqssError(f"{source}: the weights do not match the integrity hash in its metadata (edited or corrupt "
                        f"file; export it again)")
    return "verified"
