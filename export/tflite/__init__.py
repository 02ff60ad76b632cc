"""QDQ ONNX -> fully integer ``.tflite``, written directly with flatbuffers and the TFLite schema (no TensorFlow).

    from fqss_edge.export.tflite import export, read_tflite_metadata
    export("model.onnx", "model.tflite")            # int16 PCM in [1, T], int16 PCM out [n_src, T]
    export("model.onnx", "model_f.tflite", io="float32")
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import onnx

from fqss_edge.export.tflite.metadata import METADATA_NAME, build_metadata, read_tflite_metadata

__all__ = ["export", "convert_model", "read_tflite_metadata"]


def convert_model(model: onnx.ModelProto, io: str = "int16", name: str = "model.onnx",
                  length: int | None = None) -> tuple[bytes, dict]:
    """Convert an in-memory QDQ ONNX model; returns (.tflite bytes, metadata dict). ``length`` fixes the input
    length (static shapes, e.g. for a frame-based app or a benchmark tool); by default it is resizable."""
    from fqss_edge.export.tflite.converter import convert_graph

    ctx = convert_graph(model, io=io, name=name, length=length)
    meta = build_metadata(ctx, io)
    meta["fixed_length"] = length
    data = ctx.b.build(ctx.inputs, ctx.outputs, {METADATA_NAME: json.dumps(meta, sort_keys=True).encode()},
                       description="fqss-edge integer-only model")
    return data, meta


def export(onnx_path: str | os.PathLike, tflite_path: str | os.PathLike, io: str = "int16",
           length: int | None = None) -> dict:
    """Convert ``onnx_path`` (QDQ ONNX) to ``tflite_path``; atomic write. Returns the embedded metadata.

    ``io``: "int16" (PCM in [1, T], PCM out [n_src, T]; default), "float32" (same shapes, float32 in [-1, 1)) or
    "quantized" (the model's first / last quantized tensors as I/O). ``length``: fix T (static shapes)."""
    from fqss_edge.export.tflite.onnx_graph import load_onnx

    onnx_path, tflite_path = Path(onnx_path), Path(tflite_path)
    if length is not None and length < 1:
        from fqss_edge.errors import FqssError

        raise FqssError(f"TFLite export: length must be a positive number of samples, not {length}")
    data, meta = convert_model(load_onnx(onnx_path), io=io, name=str(onnx_path), length=length)
    tflite_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{tflite_path.name}.", suffix=".tmp", dir=tflite_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, tflite_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return meta
