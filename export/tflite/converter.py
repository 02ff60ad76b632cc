"""The graph walker: QDQ ONNX -> fully integer TFLite, one registered converter per DQ -> Op -> Q pattern.

Order of work: the input (the ``input_splitter`` island, or the plain QuantizeLinear of the graph input),
then every node in topological order (DequantizeLinear nodes are read by their consumers; a QuantizeLinear
fed directly by a DequantizeLinear is a requantization), then the outputs (the ``output_reconstruction``
island, or ``DQ -> [Reshape] -> output``). Anything left unconverted fails loudly with the node's name.
"""

from __future__ import annotations

import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import ops as _ops  # noqa: F401  (registers the converters)
from fqss_edge.export.tflite.context import ConvertContext
from fqss_edge.export.tflite.onnx_graph import OnnxGraph
from fqss_edge.export.tflite.registry import lookup

ISLANDS = ("input_splitter", "output_reconstruction")
IO_MODES = ("int16", "float32", "quantized")  # quantized: the int8/int16 tensors themselves (tests, parity)


def island_of(node: onnx.NodeProto) -> str | None:
    for name in ISLANDS:
        if node.name.startswith(name + "/"):
            return name
    return None


def convert_graph(model: onnx.ModelProto, io: str = "int16", name: str = "model.onnx",
                  length: int | None = None, min_runtime: tuple[int, int, int] | None = None,
                  plain_io: bool = False) -> ConvertContext:
    """Convert ``model``; returns the context holding the built subgraph (``ctx.b``) and its I/O tensors.
    ``length``: a fixed input length (static shapes) instead of a resizable one. ``min_runtime``: the oldest
    runtime to load the file (converters with a variant for older runtimes choose by it). ``plain_io``: every
    graph input and output as a plain tensor of its own name and shape (float32, or the quantized tensor)."""
    if io not in IO_MODES:
        raise FqssError(f"TFLite export: io={io!r}; choose one of {', '.join(IO_MODES)}")
    if plain_io and io == "int16":
        raise FqssError(f"{name}: int16 PCM I/O is the contract of fqss-edge models; a plain-tensor model takes "
                        "float32 or quantized I/O")
    ctx = ConvertContext.for_model(model, name, length, io=io, min_runtime=min_runtime, plain_io=plain_io)
    g = ctx.g
    islands: dict[str, list[onnx.NodeProto]] = {}
    for n in g.nodes:
        isl = island_of(n)
        if isl:
            islands.setdefault(isl, []).append(n)

    if "input_splitter" in islands:
        lookup("island:input_splitter", "input_splitter").fn(ctx, islands["input_splitter"])
    else:
        for vi in g.inputs:
            lookup("island:input", vi.name).fn(ctx, vi)

    for n in g.nodes:
        if ctx.is_claimed(n) or island_of(n) or n.op_type in ("DequantizeLinear", "Constant"):
            continue
        if n.op_type == "QuantizeLinear":
            if g.dq_source(n.input[0]) is None:
                continue  # a Q behind a float node: that node's converter claims it, or the check below fails
            lookup("QuantizeLinear", n.name).fn(ctx, n)
        elif _is_output_tail(g, n):
            continue
        else:
            ctx.claim(n)
            lookup(n.op_type, n.name).fn(ctx, n)

    if "output_reconstruction" in islands:
        lookup("island:output_reconstruction", "output_reconstruction").fn(ctx, islands["output_reconstruction"])
    else:
        for o in g.outputs:
            lookup("island:output", o.name).fn(ctx, o)

    _check_all_converted(ctx)
    return ctx


def _is_output_tail(g: OnnxGraph, n: onnx.NodeProto) -> bool:
    """A shape-only node between a DequantizeLinear and a graph output (handled by the output converter)."""
    outs = {o.name for o in g.outputs}
    if n.op_type not in ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"):
        return False
    cur = n
    while True:
        if cur.output[0] in outs:
            break
        cons = g.consumers.get(cur.output[0], [])
        if len(cons) != 1 or cons[0].op_type not in ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"):
            return False
        cur = cons[0]
    src = g.producer.get(n.input[0])
    while src is not None and src.op_type in ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten"):
        src = g.producer.get(src.input[0])
    return src is not None and src.op_type == "DequantizeLinear"


def _check_all_converted(ctx: ConvertContext) -> None:
    g = ctx.g
    for n in g.nodes:
        if ctx.is_claimed(n) or n.op_type in ("DequantizeLinear", "Constant"):
            continue
        if n.op_type == "QuantizeLinear":
            src = g.producer.get(n.input[0])
            if src is None and n.input[0] in {i.name for i in g.inputs}:
                raise FqssError(f"TFLite export: node {n.name!r} (QuantizeLinear) quantizes the graph input but was "
                                "not converted")
            what = f"{src.op_type} {src.name!r}" if src is not None else repr(n.input[0])
            raise FqssError(f"TFLite export: node {n.name!r} (QuantizeLinear) quantizes the float output of {what}, "
                            "which has no int8 converter")
        raise FqssError(f"TFLite export: node {n.name!r} (op type {n.op_type}) was not converted "
                        "(unsupported pattern: no silent float fallback)")
    # every DQ must feed a converted node
    for n in g.nodes:
        if n.op_type == "DequantizeLinear":
            for c in g.consumers.get(n.output[0], []):
                if not ctx.is_claimed(c):
                    raise FqssError(f"TFLite export: node {c.name!r} (op type {c.op_type}) was not converted")
