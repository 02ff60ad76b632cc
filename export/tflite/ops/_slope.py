"""The slope of an ONNX PRelu, shared by its int8 and float32 converters: one value (a LeakyRelu) or one per
position of a constant broadcast against the input (a per-channel PReLU)."""

from __future__ import annotations

import numpy as np
import onnx

from fqss_edge.export.tflite.context import GraphContext


def prelu_slope(ctx: GraphContext, node: onnx.NodeProto, x_shape: tuple[int, ...]) -> np.ndarray:
    """The float32 slope as a constant of the input's rank (unit axes where it is shared), from a float
    initializer (onnxruntime's ``quantize_static`` keeps it float) or a DequantizeLinear of an integer one."""
    name = node.input[1] if len(node.input) > 1 else ""
    slope = ctx.g.const(name)
    if slope is None:
        src = ctx.g.dq_source(name)
        codes = ctx.g.const(src[1]) if src is not None else None
        if codes is None:
            raise ctx.fail(node, f"the slope {name!r} is not a constant (nor a DequantizeLinear of one)")
        q = src[2]
        shape = [1] * codes.ndim
        if not q.per_tensor:
            shape[q.axis % codes.ndim] = -1
        slope = (codes.astype(np.float32) - q.zero_point.reshape(shape)) * q.scale.reshape(shape)
    slope = np.asarray(slope, dtype=np.float32)
    if slope.ndim > len(x_shape):
        raise ctx.fail(node, f"slope of rank {slope.ndim} for an input of rank {len(x_shape)}")
    slope = slope.reshape((1,) * (len(x_shape) - slope.ndim) + slope.shape)
    try:
        np.broadcast_shapes(slope.shape, x_shape)
    except ValueError:
        raise ctx.fail(node, f"slope shape {slope.shape} does not broadcast to the input {x_shape}") from None
    if any(s != 1 and s != d for s, d in zip(slope.shape, x_shape)):
        raise ctx.fail(node, f"slope shape {slope.shape} does not broadcast to the input {x_shape}")
    return slope


def single_slope(slope: np.ndarray) -> float | None:
    """The slope's one value when every position has it (a LeakyRelu), else None."""
    flat = slope.reshape(-1)
    return float(flat[0]) if np.all(flat == flat[0]) else None
