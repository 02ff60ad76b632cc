"""The ``fqss_edge`` metadata entry of the .tflite (JSON): precision (int8 / float32), I/O contract, sample
rate, length constraints, source names, and the ONNX model's own ``fqss.*`` metadata (model config included).
``read_tflite_metadata`` reads it back.

Reading needs only the ``flatbuffers`` package (``_ModelFile``: the four schema fields involved), not LiteRT's
generated schema, so the runtimes load an exported model where tflite-runtime is the only TFLite package."""

from __future__ import annotations

import json
from pathlib import Path

from flatbuffers import encode, number_types, table

from fqss_edge.errors import FqssError

METADATA_NAME = "fqss_edge"
FORMAT_VERSION = 1


def _num(v: object, default: object = None) -> object:
    try:
        return json.loads(v) if isinstance(v, str) else v
    except json.JSONDecodeError:
        return v if v is not None else default


def tensor_entry(t) -> dict:
    """A plain I/O tensor as the metadata lists it: name, dtype, shape (-1 where it follows the input length),
    and its quantization when it is an integer tensor."""
    d = {"name": t.name, "dtype": str(t.dtype),
         "shape": [-1 if dyn else int(s) for s, dyn in zip(t.shape, t.dynamic or (False,) * len(t.shape))]}
    if t.quant is not None and t.dtype != "float32":
        d.update(scale=float(t.quant.scale.reshape(-1)[0]), zero_point=int(t.quant.zero_point.reshape(-1)[0]))
    return d


def plain_metadata(ctx, io: str, precision: str) -> dict:
    """The metadata of a model that is not ours (``ctx.plain_io``): plain tensors, no audio contract."""
    return {
        "format": "fqss-edge-tflite",
        "format_version": FORMAT_VERSION,
        "contract": "plain",  # its own inputs and outputs; not the PCM waveform -> sources contract of our models
        "io": io,
        "input": tensor_entry(ctx.inputs[0]),
        "output": tensor_entry(ctx.outputs[0]),
        "inputs": [tensor_entry(t) for t in ctx.inputs],
        "outputs": [tensor_entry(t) for t in ctx.outputs],
        "precision": precision,
        "integer_only": precision == "int8",
        "onnx_metadata": {k: _num(v) for k, v in ctx.g.metadata.items()},
    }


def build_metadata(ctx, io: str, precision: str = "int8") -> dict:
    if getattr(ctx, "plain_io", False):
        return plain_metadata(ctx, io, precision)
    g = ctx.g
    md = {k: _num(v) for k, v in g.metadata.items()}
    inp, out = ctx.inputs[0], ctx.outputs[0]
    stride = md.get("fqss.stride")
    kernel = md.get("fqss.kernel_size")
    n_src = md.get("fqss.n_src", out.shape[0] if len(out.shape) == 2 else None)
    sample_rate = md.get("fqss.sample_rate")
    channels = int(md.get("fqss.audio_channels", 1))
    names = md.get("fqss.source_names") or ([f"source{i}" for i in range(n_src)] if isinstance(n_src, int) else None)
    dtype = str(inp.dtype)
    value = {"int16": "16-bit PCM, full scale 32768", "float32": "float32 in [-1, 1) (16-bit PCM / 32768)"}.get(
        io, "the quantized tensors themselves (scale / zero point in the tensor)")
    if precision == "float32":
        value = "float32 in [-1, 1) (any float value; a float model)"
    length = {"multiple_of": stride, "min": kernel,
              "rule": "T % multiple_of == 0 and T >= min; pad with zeros and crop the outputs otherwise"}
    if g.length is not None:  # exported at one input length (``export --length``): longer inputs run in windows
        length = {"multiple_of": stride, "min": kernel, "fixed": g.length,
                  "rule": f"T == {g.length}: pad shorter inputs with zeros; run longer ones in windows of {g.length}"}
    return {
        "format": "fqss-edge-tflite",
        "format_version": FORMAT_VERSION,
        "io": io,
        "input": {"name": inp.name, "dtype": dtype,
                  "shape": list(inp.shape[:-1]) + ["T"] if g.length is None else list(inp.shape),
                  "value": value, "layout": "batch, time (mono)" if channels == 1 else "batch, channel, time"},
        "output": {"name": out.name, "dtype": str(out.dtype),
                   "shape": [("n_src" if channels == 1 else "n_src * audio_channels"), "T"]
                   if len(out.shape) == 2 and g.length is None else list(out.shape),
                   "value": value,
                   "layout": "source, time" if channels == 1 else
                   "source x channel (source-major: s0 ch0, s0 ch1, s1 ch0, ...), time"},
        "sample_rate": sample_rate,
        "audio_channels": channels,
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


class _ModelFile:
    """The fields of a .tflite ``Model`` (schema.fbs) read back: ``buffers`` (field 4) and ``metadata`` (field
    6: ``Metadata {name: string; buffer: uint}``); a ``Buffer``'s ``data`` is its field 0 (``[ubyte]``).
    Field n of a table is at vtable offset 4 + 2 n, as flatc's generated readers look it up."""

    MODEL_BUFFERS, MODEL_METADATA = 4 + 2 * 4, 4 + 2 * 6
    METADATA_NAME, METADATA_BUFFER, BUFFER_DATA = 4, 6, 4

    def __init__(self, data: bytes):
        self.buf = data
        self.model = table.Table(data, encode.Get(number_types.UOffsetTFlags.packer_type, data, 0))

    def _tables(self, tab: table.Table, field: int) -> list[table.Table]:
        o = tab.Offset(field)
        if not o:
            return []
        start, n = tab.Vector(o), tab.VectorLen(o)
        if start + 4 * n > len(self.buf):  # a corrupt length: refused before it is iterated
            raise ValueError("vector past the end of the file")
        return [table.Table(self.buf, tab.Indirect(start + 4 * i)) for i in range(n)]

    def metadata(self) -> list[tuple[str, int]]:
        """(name, buffer index) of each metadata entry."""
        out = []
        for m in self._tables(self.model, self.MODEL_METADATA):
            o = m.Offset(self.METADATA_NAME)
            name = m.String(o + m.Pos).decode("utf-8") if o else ""
            o = m.Offset(self.METADATA_BUFFER)
            out.append((name, m.Get(number_types.Uint32Flags, o + m.Pos) if o else 0))
        return out

    def buffers(self) -> list[bytes]:
        out = []
        for b in self._tables(self.model, self.MODEL_BUFFERS):
            o = b.Offset(self.BUFFER_DATA)
            out.append(bytes(b.GetVectorAsNumpy(number_types.Uint8Flags, o)) if o else b"")
        return out


def stored_weights_sha256(path: str | Path) -> str:
    """SHA-256 of the .tflite's buffers other than metadata (what ``weights_sha256`` in its metadata covers)."""
    from fqss_edge.fingerprint import tflite_weights_sha256

    data = Path(path).read_bytes()
    try:
        model = _ModelFile(data)
        skip = {index for _, index in model.metadata()}
        blobs = [b for k, b in enumerate(model.buffers()) if k not in skip]
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
        model = _ModelFile(data)
        for name, index in model.metadata():
            if name == METADATA_NAME:
                return json.loads(model.buffers()[index].decode("utf-8"))
    except FqssError:
        raise
    except Exception as e:
        raise FqssError(f"{path}: corrupt TFLite file ({type(e).__name__})") from None
    raise FqssError(f"{path}: no {METADATA_NAME!r} metadata (not written by fqss-edge export?)")
