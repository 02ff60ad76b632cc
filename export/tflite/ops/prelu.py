"""ONNX PRelu (DQ -> PRelu(slope) -> Q) -> TFLite LEAKY_RELU (one slope) or PRELU (a slope per channel).

One slope is a LeakyRelu: LEAKY_RELU, which XNNPACK delegates. A slope per channel is PRELU with the slope as
an int8 constant quantized **per tensor** (a per-channel-quantized alpha runs without error in TFLite and gives
wrong results): codes round(slope / s_a), s_a = max|slope| / 127, zero point 0; a slope that is already an int8
per-tensor DQ'd constant keeps its own codes. The slope comes from a float initializer (onnxruntime
``quantize_static``) or a DequantizeLinear of an integer one.
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.layout import to_tflite_array
from fqss_edge.export.tflite.ops._slope import prelu_slope, single_slope
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.ops.leaky_relu import emit_leaky_relu
from fqss_edge.export.tflite.registry import register


def alpha_codes(ctx, node, slope: np.ndarray) -> tuple[np.ndarray, Quant]:
    """int8 codes and per-tensor quantization of a per-channel slope (its own, when it is an int8 per-tensor
    DQ'd constant)."""
    src = ctx.g.dq_source(node.input[1])
    if src is not None and src[2].per_tensor and src[2].dtype == np.int8:
        codes = ctx.g.const(src[1]).astype(np.int8)
        return codes.reshape(slope.shape), Quant.make(src[2].scale, src[2].zero_point)
    scale = np.float32(np.abs(slope).max() / 127.0) or np.float32(1.0)
    codes = np.clip(np.round(slope.astype(np.float64) / np.float64(scale)), -127, 127).astype(np.int8)
    return codes, Quant.make(scale, 0)


@register("PRelu", writes=(B.LEAKY_RELU, B.PRELU), tflite="LEAKY_RELU (one slope) / PRELU (a slope per channel)",
          bits=(8,), constraints="constant slope (float, or DQ of an integer constant) broadcast against the input; "
                                 "per-channel: alpha int8 per tensor (max|slope| / 127), not delegated by XNNPACK")
def convert_prelu(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    slope = prelu_slope(ctx, node, x.shape)
    alpha = single_slope(slope)
    if alpha is not None:
        emit_leaky_relu(ctx, node, x, out, alpha)
        return
    codes, quant = alpha_codes(ctx, node, slope)
    a = ctx.b.const(f"{out.name}/alpha", to_tflite_array(codes), quant)
    ctx.b.op(B.PRELU, [ctx.activation(x, node), a], [ctx.new_output(out)])
