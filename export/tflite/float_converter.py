"""The float graph walker: plain float ONNX (``fqss-edge export --float``) -> float32 TFLite.

Same layout and, wherever the operation is the same, the same TFLite operators as the integer path (CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV or PAD+CONV_2D+RESHAPE, LEAKY_RELU, RELU, LOGISTIC, MEAN, ADD/SUB/MUL,
RSQRT, RESHAPE, CONCATENATION, PAD, ...), so XNNPACK takes the whole graph and the float and int8 files can be
benchmarked side by side. Converters are in ``ops_float/`` (registry ``FLOAT32``).

Order of work: the graph input (``island:input``), every node in topological order (``Constant`` nodes are
read by their consumers; shape-only nodes between the last operator and a graph output are left to the output
converter), then the graph outputs (``island:output``). A QDQ graph is refused (it belongs to the integer
converter), and a node without a float converter fails with its name and op type.
"""

from __future__ import annotations

import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import ops_float as _ops_float  # noqa: F401  (registers the float converters)
from fqss_edge.export.tflite.float_context import FloatContext
from fqss_edge.export.tflite.onnx_graph import QDQ_OPS, OnnxGraph
from fqss_edge.export.tflite.registry import FLOAT32

SHAPE_OPS = ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten")


def is_float_graph(model: onnx.ModelProto) -> bool:
    """True for a graph without QuantizeLinear / DequantizeLinear nodes (what ``export --float`` writes)."""
    return not any(n.op_type in QDQ_OPS for n in model.graph.node)


def convert_float_graph(model: onnx.ModelProto, io: str = "float32", name: str = "model.onnx",
                        length: int | None = None, plain_io: bool = False) -> FloatContext:
    """Convert the float graph ``model``; returns the context holding the built subgraph and its I/O tensors."""
    if io != "float32":
        raise FqssError(f"{name}: a float ONNX graph is written as a float32 .tflite with float32 I/O "
                        f"(io={io!r} is for int8 QDQ graphs)")
    qdq = next((n for n in model.graph.node if n.op_type in QDQ_OPS), None)
    if qdq is not None:
        raise FqssError(f"{name}: node {qdq.name!r} ({qdq.op_type}): a QDQ graph goes to the integer converter, "
                        "not the float32 one")
    ctx = FloatContext.for_model(model, name, length, plain_io=plain_io)
    g = ctx.g
    islands = g.metadata_json("fqss.islands", {}) or {}  # the float forms of the FQSS I/O islands, if any
    ctx.facts["input_splitter"] = isinstance(islands, dict) and "input_splitter" in islands
    ctx.facts["residual_output"] = isinstance(islands, dict) and "output_reconstruction" in islands

    for vi in g.inputs:
        FLOAT32.lookup("island:input", vi.name).fn(ctx, vi)
    for n in g.nodes:
        if ctx.is_claimed(n) or n.op_type == "Constant" or _is_output_tail(g, n):
            continue
        ctx.claim(n)
        FLOAT32.lookup(n.op_type, n.name).fn(ctx, n)
    for o in g.outputs:
        FLOAT32.lookup("island:output", o.name).fn(ctx, o)

    for n in g.nodes:
        if not ctx.is_claimed(n) and n.op_type != "Constant":
            raise FqssError(f"TFLite export (float32): node {n.name!r} (op type {n.op_type}) was not converted")
    return ctx


def _is_output_tail(g: OnnxGraph, n: onnx.NodeProto) -> bool:
    """A shape-only node on the only path from an operator to a graph output (the output converter reads the
    operator's tensor directly and lays it out once, instead of a RESHAPE/TRANSPOSE here and back there)."""
    outs = {o.name for o in g.outputs}
    cur = n
    while cur.op_type in SHAPE_OPS:
        cons = g.consumers.get(cur.output[0], [])
        if cur.output[0] in outs:
            return not cons
        if len(cons) != 1:
            return False
        cur = cons[0]
    return False
