"""Shared pieces of the float32 converters: constant weights, one-input element-wise ops, binary ops."""

from __future__ import annotations

import numpy as np
import onnx

from fqss_edge.export.tflite.emit import broadcast_rank
from fqss_edge.export.tflite.float_context import FIn, FloatContext, FOut

# why Floor has no int8 twin
FLOAT_FORM_OF_SPLITTER = ("the float form of the input_splitter island; an int8 graph's island is converted as a "
                          "whole (island:input_splitter)")


def const_weight(ctx: FloatContext, node: onnx.NodeProto, i: int, what: str) -> FIn:
    w = ctx.input(node, i)
    if w.const is None:
        raise ctx.fail(node, f"the {what} ({node.input[i]!r}) is not a constant initializer")
    return w


def conv_operands(ctx: FloatContext, node: onnx.NodeProto, what: str) -> tuple[FIn, FIn, FOut, np.ndarray]:
    """(input, weight, output, float32 weight array) of a 1-D (transposed) convolution."""
    x = ctx.input(node, 0)
    w = const_weight(ctx, node, 1, "weight")
    out = ctx.output(node)
    if len(x.shape) != 3 or w.const.ndim != 3:
        raise ctx.fail(node, f"only 1-D {what} (rank-3 input) are supported, got input shape {x.shape}")
    return x, w, out, np.asarray(w.const, dtype=np.float32)


def bias_values(ctx: FloatContext, node: onnx.NodeProto, i: int, n: int) -> np.ndarray:
    """The float32 bias of a convolution (zeros when the node has none: XNNPACK and TFLite's converter
    always give CONV_2D / DEPTHWISE_CONV_2D one)."""
    b = ctx.optional_input(node, i)
    if b is None:
        return np.zeros(n, dtype=np.float32)
    if b.const is None:
        raise ctx.fail(node, "the bias is not a constant initializer")
    if b.const.size != n:
        raise ctx.fail(node, f"the bias has {b.const.size} values for {n} output channels")
    return np.asarray(b.const, dtype=np.float32).reshape(-1)


def unary(ctx: FloatContext, node: onnx.NodeProto, code: int, options: object = None) -> None:
    """x -> one TFLite operator -> y, same shape."""
    x = ctx.input(node, 0)
    if x.const is not None:
        raise ctx.fail(node, "the input is a constant (fold it before export)")
    y = ctx.new_output(ctx.output(node))
    ctx.b.op(code, [ctx.activation(x, node)], [y], options)


def binary(ctx: FloatContext, node: onnx.NodeProto, code: int, options: object) -> None:
    """ADD / SUB / MUL with broadcasting; a constant operand is laid out for the output's rank."""
    a, b = ctx.input(node, 0), ctx.input(node, 1)
    out = ctx.output(node)
    if a.const is not None and b.const is not None:
        raise ctx.fail(node, "both operands are constants (fold them before export)")
    rank = len(out.shape)
    ts = []
    for x in (a, b):
        if x.const is not None:
            ts.append(ctx.const_operand(x, rank))
            continue
        t = ctx.activation(x, node)
        if len(x.shape) < rank:  # numpy broadcasting: leading unit axes
            t = broadcast_rank(ctx.b, t, x.shape, x.dynamic, rank, f"{x.name}/{node.name}")
        ts.append(t)
    y = ctx.new_output(out)
    ctx.b.op(code, ts, [y], options)
