"""Hand-edited copies of model files, as a hostile user would make them: a checkpoint whose embedded config was
changed (its digest recomputed, so only validation can catch it), an ONNX model or a .tflite whose fqss metadata
was edited, or copied onto another model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import onnx
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.checkpoint import CHECKPOINT_FORMAT, _read_safetensors, _serialise

Mutation = Callable[[dict[str, Any]], Any]


def edited_checkpoint(src: Path, dst: Path, mutate: Mutation) -> Path:
    """``src`` with ``mutate(config)`` applied to its embedded run config; the digest is recomputed."""
    tensors, metadata = _read_safetensors(Path(src), CHECKPOINT_FORMAT)
    config = json.loads(metadata["fqss_edge.config"])
    mutate(config)
    metadata = {k: v for k, v in metadata.items() if k != "fqss_edge.sha256"}
    metadata["fqss_edge.config"] = json.dumps(config)
    Path(dst).write_bytes(_serialise(tensors, metadata))
    return Path(dst)


def edited_onnx(src: Path, dst: Path, mutate: Mutation) -> Path:
    """``src`` with ``mutate(props)`` applied to its metadata_props as a dict of JSON-decoded values (a value
    that is not JSON stays a string)."""
    model = onnx.load(str(src))
    props: dict[str, Any] = {}
    for p in model.metadata_props:
        try:
            props[p.key] = json.loads(p.value)
        except json.JSONDecodeError:
            props[p.key] = p.value
    mutate(props)
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v if isinstance(v, str) else json.dumps(v))
    onnx.save(model, str(dst))
    return Path(dst)


def edited_tflite(src: Path, dst: Path, mutate: Mutation, name: str = "fqss_edge") -> Path:
    """``src`` with ``mutate(meta)`` applied to its ``fqss_edge`` metadata JSON (the flatbuffer is rebuilt)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(Path(src).read_bytes()), 0)
    entry = next(m for m in model.metadata if m.name.decode() == name)
    meta = json.loads(bytes(model.buffers[entry.buffer].data).decode())
    mutate(meta)
    model.buffers[entry.buffer].data = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return _write_tflite(model, dst)


def with_metadata_of(model_path: Path, metadata_from: Path, dst: Path) -> Path:
    """The .tflite ``model_path`` carrying the ``fqss_edge`` metadata of ``metadata_from`` (a foreign model with
    copied metadata)."""
    donor = schema.ModelT.InitFromPackedBuf(bytearray(Path(metadata_from).read_bytes()), 0)
    d_entry = next(m for m in donor.metadata if m.name.decode() == "fqss_edge")
    model = schema.ModelT.InitFromPackedBuf(bytearray(Path(model_path).read_bytes()), 0)
    buffer = schema.BufferT()
    buffer.data = donor.buffers[d_entry.buffer].data
    entry = schema.MetadataT()
    entry.name, entry.buffer = b"fqss_edge", len(model.buffers)
    model.buffers.append(buffer)
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() != "fqss_edge"] + [entry]
    return _write_tflite(model, dst)


def _write_tflite(model: schema.ModelT, dst: Path) -> Path:
    fb = flatbuffers.Builder(1024)
    fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
    Path(dst).write_bytes(bytes(fb.Output()))
    return Path(dst)


def one_operator_tflite(dst: Path, input_name: str = "mixture", output_name: str = "sources") -> Path:
    """A foreign model: int16 [1, T] -> ABS -> int16 [1, T], one operator, no fqss metadata."""
    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ABS
    code.version = 1
    model.operatorCodes = [code]
    tensors = []
    for i, name in enumerate((input_name, output_name)):
        t = schema.TensorT()
        t.name, t.type, t.buffer = name.encode(), schema.TensorType.INT16, i + 1
        t.shape, t.shapeSignature = [1, 16], [1, -1]
        tensors.append(t)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [0], [1], [op]
    model.subgraphs = [sg]
    model.buffers = [schema.BufferT() for _ in range(3)]
    model.metadata = []
    return _write_tflite(model, dst)


def edited_tflite_weights(src: Path, dst: Path) -> Path:
    """``src`` with one byte of its first non-empty weight buffer flipped (metadata left as it is)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(Path(src).read_bytes()), 0)
    skip = {m.buffer for m in model.metadata}
    k = next(i for i, b in enumerate(model.buffers) if i not in skip and b.data is not None and len(b.data))
    data = np.array(model.buffers[k].data, dtype=np.uint8)
    data[0] ^= 1
    model.buffers[k].data = data
    return _write_tflite(model, dst)


def edited_onnx_weights(src: Path, dst: Path) -> Path:
    """``src`` with one value of its first non-empty initializer changed (metadata left as it is)."""
    from onnx import numpy_helper

    model = onnx.load(str(src))
    init = next(i for i in model.graph.initializer if np.prod(i.dims) > 0)
    array = numpy_helper.to_array(init).copy()
    array.flat[0] = array.flat[0] + 1
    init.CopyFrom(numpy_helper.from_array(array, init.name))
    onnx.save(model, str(dst))
    return Path(dst)
