"""The ``fqss_edge`` metadata entry of the .tflite (JSON): precision (int8 / float32), I/O contract, sample
rate, length constraints, source names, and the ONNX model's own ``fqss.*`` metadata (model config included).
``read_tflite_metadata`` reads it back."""

from __future__ import annotations

import json
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError

METADATA_NAME = "fqss_edge"
FORMAT_VERSION = 1


def _num(v: object, default: object = None) -> object:
    try:
        return json.loads(v) if isinstance(v, str) else v
    except json.JSONDecodeError:
        return v if v is not None else default


def build_metadata(ctx, io: str, precision: str = "int8") -> dict:
    g = ctx.g
    md = {k: _num(v) for k, v in g.metadata.items()}
    inp, out = ctx.inputs[0], ctx.outputs[0]
    stride = md.get("fqss.stride")
    kernel = md.get("fqss.kernel_size")
    n_src = md.get("fqss.n_src", out.shape[0] if len(out.shape) == 2 else None)
    sample_rate = md.get("fqss.sample_rate")
    names = md.get("fqss.source_names") or ([f"source{i}" for i in range(n_src)] if isinstance(n_src, int) else None)
    dtype = str(inp.dtype)
    value = {"int16": "16-bit PCM, full scale 32768", "float32": "float32 in [-1, 1) (16-bit PCM / 32768)"}.get(
        io, "the quantized tensors themselves (scale / zero point in the tensor)")
    if precision == "float32":
        value = "float32 in [-1, 1) (any float value; a float model)"
    length = {"multiple_of": stride, "min": kernel,
              "rule": "T % multiple_of == 0 and T >= min; pad with zeros and crop the outputs otherwise"}
    return {
        "format": "fqss-edge-tflite",
        "format_version": FORMAT_VERSION,
        "io": io,
        "input": {"name": inp.name, "dtype": dtype, "shape": [1, "T"] if len(inp.shape) == 2 else list(inp.shape),
                  "value": value, "layout": "batch, time (mono)"},
        "output": {"name": out.name, "dtype": str(out.dtype),
                   "shape": ["n_src", "T"] if len(out.shape) == 2 else list(out.shape), "value": value,
                   "layout": "source, time"},
        "sample_rate": sample_rate,
        "n_src": n_src,
        "source_names": names,
        "length": length,
        "frame": {"hop": stride, "window": kernel},
        "input_splitter": bool(ctx.facts.get("input_splitter")),
        "residual_output": bool(ctx.facts.get("residual_output")),
        "precision": precision,  # "int8": integer-only operators; "float32": a float model
        "integer_only": precision == "int8",
        "onnx_metadata": md,
    }


def stored_weights_sha256(path: str | Path) -> str:
    """SHA-256 of the .tflite's buffers other than metadata (what ``weights_sha256`` in its metadata covers)."""
    from fqss_edge.fingerprint import tflite_weights_sha256

    data = Path(path).read_bytes()
    try:
        model = schema.Model.GetRootAs(data, 0)
        skip = {model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
        blobs = [bytes(model.Buffers(k).DataAsNumpy()) if model.Buffers(k).DataLength() else b""
                 for k in range(model.BuffersLength()) if k not in skip]
    except Exception as e:
        raise FqssError(f"{path}: corrupt TFLite file ({type(e).__name__})") from None
    return tflite_weights_sha256(blobs)


def read_tflite_metadata(path: str | Path) -> dict:
    """The ``fqss_edge`` JSON of a .tflite written by ``export`` (FqssError if missing or unreadable)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FqssError(f"{path}: cannot read ({e.strerror})") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise FqssError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            m = model.Metadata(i)
            if m.Name() and m.Name().decode() == METADATA_NAME:
                buf = model.Buffers(m.Buffer())
                return json.loads(bytes(buf.DataAsNumpy()).decode("utf-8"))
    except FqssError:
        raise
    except Exception as e:
        raise FqssError(f"{path}: corrupt TFLite file ({type(e).__name__})") from None
    raise FqssError(f"{path}: no {METADATA_NAME!r} metadata (not written by fqss-edge export?)")
