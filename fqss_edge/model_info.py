"""What an exported model says about itself: I/O contract, sample rate, frame constraints, sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fqss_edge.errors import FqssError


def onnx_info(path: Path) -> dict[str, Any]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise FqssError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
    if not model.ir_version or not model.graph.node:
        raise FqssError(f"{path}: not an ONNX model (no IR version or no graph nodes)")
    meta = {}
    for p in model.metadata_props:
        try:
            meta[p.key] = json.loads(p.value)
        except json.JSONDecodeError:
            meta[p.key] = p.value
    from fqss_edge.runtimes.base import AUDIO_DECODER_KEY

    if AUDIO_DECODER_KEY in meta:  # export --with-audio-decoder: audio file bytes in
        from fqss_edge.runtimes.audio_file import AudioDecoderInfo

        AudioDecoderInfo.of(model, path)
    elif "fqss.io_contract" in meta:
        from fqss_edge.runtimes.onnxruntime_backend import contract_of

        contract_of(model, path)  # validated: a hand-edited or copied contract is an error, not a display
    from fqss_edge.fingerprint import FINGERPRINT_KEY, ONNX_WEIGHTS_KEY, check_digest, onnx_weights_sha256

    integrity = check_digest(meta.get(ONNX_WEIGHTS_KEY), onnx_weights_sha256(model), str(path))
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {"format": "onnx", "integrity": integrity, "fingerprint": meta.get(FINGERPRINT_KEY) or "no fingerprint",
            "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                                            default=None), "metadata": meta, "operators": ops}


def tflite_info(path: Path) -> dict[str, Any]:
    from fqss_edge.export.tflite.metadata import read_tflite_metadata
    from fqss_edge.export.tflite.metadata import stored_weights_sha256
    from fqss_edge.export.tflite.versions import file_ops, min_runtime
    from fqss_edge.fingerprint import FINGERPRINT_KEY, TFLITE_WEIGHTS_KEY, check_digest
    from fqss_edge.runtimes.litert_backend import contract_from_metadata

    meta = read_tflite_metadata(path)
    if meta.get("contract") != "plain":  # plain tensor I/O (fqss-edge convert) has no audio contract to check
        contract_from_metadata(meta, f"{path}: fqss_edge metadata")  # validated before it is shown
    integrity = check_digest(meta.get(TFLITE_WEIGHTS_KEY), stored_weights_sha256(path), str(path))
    fingerprint = (meta.get("onnx_metadata") or {}).get(FINGERPRINT_KEY) or "no fingerprint"
    runtime, needed_by = min_runtime(file_ops(path.read_bytes()))
    return {"format": "tflite", "integrity": integrity, "fingerprint": fingerprint, "metadata": meta,
            "min_runtime": {"version": runtime, "needed_by": needed_by}}


def model_info(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FqssError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        info = onnx_info(path)
    elif suffix == ".tflite":
        info = tflite_info(path)
    else:
        raise FqssError(f"{path}: 'info' reads .onnx and .tflite files")
    info["path"] = str(path)
    info["bytes"] = path.stat().st_size
    return info
