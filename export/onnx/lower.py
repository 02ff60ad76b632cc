"""Write a traced ``forward_core`` (``trace.Trace``) into a ``GraphBuilder``: leaves through their emitters, shape
operations as ONNX nodes, and the graph output ``sources``.

A shape op on a quantized tensor is ``DQ -> op -> Q`` with identical parameters (``same_params``); on a float
tensor written inside a float island (the residual output's reconstruction) it is a plain node of that island; on
any other float tensor (the float graph) a plain node.

The graph output ``sources`` (float32 ``[1, n_src, T]``) is what ``forward_core`` returns:

* a float tensor of an island: the last op is a node of that island writing ``sources`` (FQSS residual output);
* a quantized tensor: ``... -> Q -> DQ -> sources``, its last shape op included: ``DQ -> Reshape -> Q -> DQ ->
  sources``, never ``DQ -> Reshape -> sources`` (onnxruntime 1.31, default options, fails on that: its QDQ
  propagation adds a Q that its S8->U8 pass then leaves mistyped);
* a float tensor: the last op writes ``sources`` (``output/<Op>``; ``output/Identity`` if there is no shape op).
"""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import emit
from fqss_edge.export.onnx.trace import LeafCall, ShapeOp, Trace
from fqss_edge.runtimes.base import INPUT_NAME, OUTPUT_NAME

SUFFIX = {"Reshape": "reshaped", "Unsqueeze": "unsqueezed", "Squeeze": "squeezed", "Transpose": "transposed"}


def lower(b: GraphBuilder, traced: Trace) -> None:
    """Every traced operation into ``b``, then the graph output ``sources``."""
    refs = {0: TensorRef(INPUT_NAME)}
    events = list(traced.events)
    last = events.pop() if events and events[-1].output == traced.output else None
    for e in events:
        refs[e.output] = leaf(b, e, refs) if isinstance(e, LeafCall) else shape_op(b, e, refs[e.input])
    if isinstance(last, ShapeOp):
        graph_output(b, last, refs[last.input])
        return
    if last is not None:
        refs[last.output] = leaf(b, last, refs)
    graph_output(b, None, refs[traced.output])


def leaf(b: GraphBuilder, e: LeafCall, refs: dict[int, TensorRef]) -> TensorRef:
    name = b.module_name(e.module)
    inputs = [refs[t] for t in e.inputs]
    for k, (ref, params) in enumerate(zip(inputs, e.params)):
        qp = ref.qparams
        if qp is not None and params is not None and params != (qp.scale, qp.zero_point):
            raise FqssError(f"ONNX export: input {k} of {name} carries scale/zero point {params}, but the tensor "
                            f"{ref.name} it is computed from has {(qp.scale, qp.zero_point)}: a QTensor rebuilt "
                            f"with other parameters is not a graph operation")
    return emit(b, e.module, name, *inputs)


def operands(b: GraphBuilder, e: ShapeOp) -> tuple[list[str], dict[str, object]]:
    """The constant inputs and attributes of a shape op: Reshape's shape, (Un)Squeeze's axes, Transpose's perm."""
    dims = "_".join(str(d) for d in e.ints)
    if e.op == "Reshape":
        return [b.const(f"const.shape_{dims}", np.array(e.ints, dtype=np.int64))], {}
    if e.op == "Transpose":
        return [], {"perm": list(e.ints)}
    return [b.const(f"const.axes_{dims}", np.array(e.ints, dtype=np.int64))], {}


def shape_op(b: GraphBuilder, e: ShapeOp, x: TensorRef) -> TensorRef:
    extra, attrs = operands(b, e)
    name = e.name or f"{x.name}.{SUFFIX[e.op]}"
    island = b.tensor_islands.get(x.name) if x.qparams is None else None
    if island:
        return TensorRef(b.node(e.op, [x.name, *extra], f"{name}/{e.op}", island=island, **attrs))
    return b.same_params(e.op, x, name, extra, **attrs)


def graph_output(b: GraphBuilder, last: ShapeOp | None, x: TensorRef) -> None:
    """``sources`` from ``x``, after ``last`` (the shape op that computes the output from ``x``, if any)."""
    if x.qparams is not None:
        y = shape_op(b, last, x) if last is not None else x
        assert y.qparams is not None
        b.node("DequantizeLinear", [y.name, *b.qparam_inputs(y.name, y.qparams)], "output/DequantizeLinear",
               output=OUTPUT_NAME)
        return
    island = b.tensor_islands.get(x.name)
    op, (extra, attrs) = (last.op, operands(b, last)) if last is not None else ("Identity", ([], {}))
    b.node(op, [x.name, *extra], op if island else f"output/{op}", output=OUTPUT_NAME, island=island, **attrs)
