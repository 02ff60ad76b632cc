"""ONNX PRelu (DQ -> PRelu(slope) -> Q) -> TFLite LEAKY_RELU (one slope), MAXIMUM(QUANTIZE(x), MUL(x, alpha))
(a slope per channel, every slope <= 1) or PRELU (a slope per channel, some > 1).

One slope is a LeakyRelu: LEAKY_RELU, which XNNPACK delegates. A slope per channel: XNNPACK does not take int8
PRELU, and TFLite's int8 PRELU kernel is slow (its broadcast path); for slopes a_c <= 1, prelu(x) = max(x, a_c x),
written as x requantized to the output (QUANTIZE) and a_c x (MUL by the per-channel slope constant, into the
output quantization), then MAXIMUM: each branch is rounded once and max is monotonic, so the result is as exact as
PRELU's (both <= 1 LSB from onnxruntime), and XNNPACK takes the MUL and the QUANTIZE; on [1, 1, 1000, 512] it ran
in 191 µs vs PRELU's 4650 µs (``benchmarks/results/prelu_int8.md``). A slope above 1 keeps PRELU. The slope
constant is int8 quantized **per tensor** (a per-channel-quantized PRELU alpha runs without error in TFLite and
gives wrong results): codes round(slope / s_a), s_a = max|slope| / 127, zero point 0; a slope that is already an
int8 per-tensor DQ'd constant keeps its own codes. The slope comes from a float initializer (onnxruntime
``quantize_static``) or a DequantizeLinear of an integer one.
"""

from __future__ import annotations

import numpy as np

from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.layout import to_tflite_array, to_tflite_flags, to_tflite_shape
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


@register("PRelu", writes=(B.LEAKY_RELU, B.MUL, B.QUANTIZE, B.MAXIMUM, B.PRELU),
          tflite="LEAKY_RELU (one slope) / MAXIMUM(QUANTIZE(x), MUL(x, slope)) (per channel, slopes <= 1) / PRELU",
          bits=(8,), constraints="constant slope (float, or DQ of an integer constant) broadcast against the input; "
                                 "per-channel slope int8 per tensor (max|slope| / 127); PRELU (slopes > 1) is not "
                                 "delegated by XNNPACK")
def convert_prelu(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8,))
    slope = prelu_slope(ctx, node, x.shape)
    alpha = single_slope(slope)
    if alpha is not None:
        emit_leaky_relu(ctx, node, x, out, alpha)
        return
    codes, quant = alpha_codes(ctx, node, slope)
    a = ctx.b.const(f"{out.name}/alpha", to_tflite_array(codes), quant)
    t = ctx.activation(x, node)
    if np.max(slope) > 1:  # max(x, a x) needs a <= 1
        ctx.b.op(B.PRELU, [t, a], [ctx.new_output(out)])
        return
    ax = ctx.b.tensor(f"{out.name}/ax", to_tflite_shape(out.shape), np.int8, out.quant(), to_tflite_flags(out.dynamic))
    ctx.b.op(B.MUL, [t, a], [ax], schema.MulOptionsT())
    ctx.b.op(B.MAXIMUM, [quantize(ctx.b, t, np.int8, out.quant(), f"{out.name}/x"), ax], [ctx.new_output(out)])
