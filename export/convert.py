"""``fqss-edge convert MODEL.onnx -o MODEL.tflite``: an ONNX model from anywhere -> ``.tflite``.

A QDQ graph (onnxruntime ``quantize_static``, Brevitas, or ``fqss-edge export --int8``) becomes a fully integer
``.tflite`` with the graph's own scales and zero points; a plain float graph a float32 ``.tflite``. Before any
work the graph's op types are checked against the converter registry of its precision: a graph with op types that
have no converter is refused in one line naming every such node (name and op type), and nothing is written.

A model ``fqss-edge export`` wrote (its metadata holds ``fqss.io_contract``) keeps our I/O contract (int16 PCM
``[1, T]`` in, ``[n_src, T]`` out by default); any other model gets plain tensors: its own input and output names
and shapes, float32 at the edges (QUANTIZE / DEQUANTIZE inside) or, with ``io="quantized"``, the quantized
tensors themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from fqss_edge.errors import FqssError

SKIPPED = ("DequantizeLinear", "Constant", "Identity")  # read by their consumers / the output converter


def unsupported_nodes(model: onnx.ModelProto, precision: str, name: str = "model.onnx") -> list[onnx.NodeProto]:
    """The nodes whose op type has no converter in the registry of ``precision`` ("int8" or "float32"); the
    nodes of our declared I/O islands are converted as a whole and not listed, nor a node that the converter of
    the node in front of it converts with its own (``absorbs``: Sqrt -> Reciprocal)."""
    from fqss_edge.export.tflite.converter import island_of
    from fqss_edge.export.tflite.float_converter import convert_float_graph  # noqa: F401  (registers float32)
    from fqss_edge.export.tflite.registry import FLOAT32, INT8

    from fqss_edge.export.tflite.onnx_graph import OnnxGraph

    registry = INT8 if precision == "int8" else FLOAT32
    g = OnnxGraph(model, name)  # the graph as the converters see it (integer Clips of constants folded)
    producer = g.producer

    def absorbed(n: onnx.NodeProto) -> bool:
        front = producer.get(n.input[0]) if n.input else None
        spec = registry.get(front.op_type) if front is not None else None
        return spec is not None and n.op_type in spec.absorbs

    return [n for n in g.nodes
            if n.op_type not in SKIPPED and registry.get(n.op_type) is None
            and not (precision == "int8" and island_of(n)) and not absorbed(n)]


def convert_onnx(onnx_path: str | os.PathLike, tflite_path: str | os.PathLike, io: str | None = None,
                 length: int | None = None, min_runtime: str | None = None) -> dict:
    """Convert ``onnx_path`` to ``tflite_path`` (atomic write); returns the embedded metadata. ``io``: for our
    models int16 (default for int8) or float32; for any other model float32 (default) or quantized. ``length``:
    fix every length-dependent dimension (static shapes)."""
    from fqss_edge.export.onnx.flavour import flavour_of
    from fqss_edge.export.tflite import convert_model, graph_precision
    from fqss_edge.export.tflite.onnx_graph import is_fqss_model, load_onnx
    from fqss_edge.fileio import atomic_write_bytes

    onnx_path, tflite_path = Path(onnx_path), Path(tflite_path)
    if tflite_path.suffix.lower() != ".tflite":
        raise FqssError(f"{tflite_path}: -o names the .tflite file to write (suffix .tflite)")
    if tflite_path.is_dir():
        raise FqssError(f"{tflite_path}: is a folder; -o names the .tflite file to write")
    if length is not None and length < 1:
        raise FqssError(f"{onnx_path}: --length must be a positive number of samples, not {length}")
    model = load_onnx(onnx_path)
    if flavour_of(model) == "onnxruntime":
        raise FqssError(f"{onnx_path}: the onnxruntime flavour of an fqss-edge export (uint8, fused means): "
                        "convert the contract graph instead (`fqss-edge export CKPT --int8 --target tflite`), or use "
                        "the .tflite export wrote beside it")
    precision = graph_precision(model, name=str(onnx_path))
    missing = unsupported_nodes(model, precision, str(onnx_path))
    if missing:
        nodes = ", ".join(f"{n.name or '(unnamed)'!r} ({n.op_type})" for n in missing)
        raise FqssError(f"{onnx_path}: {len(missing)} node(s) without a {precision} TFLite converter: {nodes}")
    ours = is_fqss_model(model)
    if not ours and io == "int16":
        raise FqssError(f"{onnx_path}: --io int16 (16-bit PCM) is the contract of fqss-edge models; this model has "
                        "plain tensor I/O: use --io float32 (default) or --io quantized")
    if ours and length is not None:
        from fqss_edge.export.bundle import check_length

        check_length(onnx_path, onnx_path, length)
    data, meta = convert_model(model, io=io, name=str(onnx_path), length=length, min_runtime=min_runtime,
                               plain_io=not ours)
    atomic_write_bytes(tflite_path, data)
    return meta
