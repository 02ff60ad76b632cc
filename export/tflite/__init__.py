"""ONNX -> ``.tflite``, written directly with flatbuffers and the TFLite schema (no TensorFlow).

A QDQ graph (``fqss-edge export --int8``) becomes a fully integer model (``converter.py``, ``ops/``); a plain
float graph (``--float``) a float32 model with the same layout and operators (``float_converter.py``,
``ops_float/``), for float-vs-int8 comparisons. Which one is decided by the graph (does it hold
QuantizeLinear / DequantizeLinear nodes?) or forced with ``precision``; neither falls back to the other.

    from fqss_edge.export.tflite import export, read_tflite_metadata
    export("model.onnx", "model.tflite")            # int8 graph: int16 PCM in [1, T], int16 PCM out [n_src, T]
    export("model.onnx", "model_f.tflite", io="float32")
    export("float.onnx", "float.tflite")            # float graph: float32 waveform in, float32 sources out
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fqss_edge.export.tflite.metadata import METADATA_NAME, build_metadata, read_tflite_metadata
from fqss_edge.fileio import atomic_write_bytes
from fqss_edge.fingerprint import TFLITE_WEIGHTS_KEY, tflite_weights_sha256

if TYPE_CHECKING:  # onnx only where a model is converted: the runtimes import this package's readers without it
    import onnx

__all__ = ["export", "convert_model", "graph_precision", "read_tflite_metadata"]


PRECISIONS = ("auto", "int8", "float32")


def graph_precision(model: onnx.ModelProto, precision: str = "auto", name: str = "model.onnx") -> str:
    """"int8" for a QDQ graph, "float32" for a plain float graph; a forced ``precision`` must match the graph."""
    from fqss_edge.errors import FqssError
    from fqss_edge.export.tflite.float_converter import is_float_graph

    if precision not in PRECISIONS:
        raise FqssError(f"TFLite export: precision={precision!r}; choose one of {', '.join(PRECISIONS)}")
    found = "float32" if is_float_graph(model) else "int8"
    if precision != "auto" and precision != found:
        what = "has no QuantizeLinear/DequantizeLinear nodes (a float graph)" if found == "float32" else \
            "is a QDQ graph"
        raise FqssError(f"{name}: precision {precision} was asked but the ONNX model {what}")
    return found


def convert_model(model: onnx.ModelProto, io: str | None = None, name: str = "model.onnx",
                  length: int | None = None, precision: str = "auto",
                  min_runtime: str | None = None, plain_io: bool = False) -> tuple[bytes, dict]:
    """Convert an in-memory ONNX model; returns (.tflite bytes, metadata dict). ``io``: default int16 for a QDQ
    graph, float32 for a float graph (its only mode). ``length`` fixes the input length (static shapes, e.g.
    for a frame-based app or a benchmark tool); by default it is resizable. ``min_runtime`` (e.g. "2.14"): refuse
    a model that needs a newer TF Lite / LiteRT runtime (``versions.py``), naming the operators. ``plain_io``: the
    graph's own inputs and outputs as plain tensors (a model that is not ours: float32 I/O by default)."""
    from fqss_edge.export.tflite.versions import check_runtime, file_ops, parse_version

    level = parse_version(min_runtime) if min_runtime is not None else None
    precision = graph_precision(model, precision, name)
    if precision == "float32":
        from fqss_edge.export.tflite.float_converter import convert_float_graph

        io = io or "float32"
        ctx = convert_float_graph(model, io=io, name=name, length=length, plain_io=plain_io)
        description = "fqss-edge float32 model"
    else:
        from fqss_edge.export.tflite.converter import convert_graph

        io = io or ("float32" if plain_io else "int16")
        ctx = convert_graph(model, io=io, name=name, length=length, min_runtime=level, plain_io=plain_io)
        description = "fqss-edge integer-only model"
    meta = build_metadata(ctx, io, precision)
    meta["fixed_length"] = length
    meta[TFLITE_WEIGHTS_KEY] = tflite_weights_sha256(
        b"" if b.data is None else np.asarray(b.data, np.uint8).tobytes() for b in ctx.b.buffers)
    data = ctx.b.build(ctx.inputs, ctx.outputs, {METADATA_NAME: json.dumps(meta, sort_keys=True).encode()},
                       description=description)
    if min_runtime is not None:
        check_runtime(file_ops(data), min_runtime)
    return data, meta


def export(onnx_path: str | os.PathLike, tflite_path: str | os.PathLike, io: str | None = None,
           length: int | None = None, precision: str = "auto", min_runtime: str | None = None) -> dict:
    """Convert ``onnx_path`` to ``tflite_path``; atomic write. Returns the embedded metadata.

    QDQ graph: ``io`` "int16" (PCM in [1, T], PCM out [n_src, T]; default), "float32" (same shapes, float32 in
    [-1, 1)) or "quantized" (the model's first / last quantized tensors as I/O). Float graph: float32 I/O only.
    ``length``: fix T (static shapes). ``precision``: "auto" (from the graph), or "int8" / "float32" to insist.
    ``min_runtime``: the oldest TF Lite / LiteRT runtime the file must load on (nothing is written otherwise)."""
    from fqss_edge.export.tflite.onnx_graph import load_onnx

    onnx_path, tflite_path = Path(onnx_path), Path(tflite_path)
    if length is not None and length < 1:
        from fqss_edge.errors import FqssError

        raise FqssError(f"TFLite export: length must be a positive number of samples, not {length}")
    data, meta = convert_model(load_onnx(onnx_path), io=io, name=str(onnx_path), length=length, precision=precision,
                               min_runtime=min_runtime)
    atomic_write_bytes(tflite_path, data)
    return meta
