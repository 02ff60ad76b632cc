"""Checks and TFLite tensors for the int8 weights and int32 biases of convolutions."""

from __future__ import annotations

import numpy as np
import onnx

from fqss_edge.export.tflite.builder import Quant, TensorInfo
from fqss_edge.export.tflite.context import ConvertContext, QIn


def check_weight(ctx: ConvertContext, node: onnx.NodeProto, w: QIn, channel_axis: int) -> None:
    if w.const is None:
        raise ctx.fail(node, "the weight is not a constant (DQ of an int8 initializer expected)")
    if w.const.dtype != np.int8:
        raise ctx.fail(node, f"{w.const.dtype} weights; TFLite int8 kernels need int8 weights")
    if np.any(w.q.zero_point != 0):
        if w.name in ctx.g.uint8:  # read as int8 with zero point z - 128 (onnx_graph.uint8_as_int8)
            raise ctx.fail(node, "uint8 weights with a zero point other than 128: TFLite's int8 kernels need "
                                 "symmetric weights (quantize the weights as QInt8, e.g. quantize_static's default "
                                 "weight_type)")
        raise ctx.fail(node, "weight zero points must be 0 (symmetric int8 weights)")
    if not w.q.per_tensor and w.q.axis % w.const.ndim != channel_axis:
        raise ctx.fail(node, f"weights quantized along axis {w.q.axis}; the output-channel axis is {channel_axis}")


def weight_scales(w: QIn, n_out: int) -> np.ndarray:
    s = w.q.scale.reshape(-1).astype(np.float32)
    return s if s.size == n_out else np.repeat(s, n_out) if s.size == 1 else s


def optional_bias(ctx: ConvertContext, node: onnx.NodeProto, i: int) -> QIn | np.ndarray | None:
    """Input ``i`` of a convolution: a DQ'd int32 bias, a float32 initializer (PyTorch's PT2E flow leaves biases
    float: quantized here, ``bias_arrays``), or None."""
    if i < len(node.input) and node.input[i]:
        b = ctx.g.const(node.input[i])
        if b is not None and b.dtype == np.float32:
            return b.reshape(-1)
    return ctx.optional_qinput(node, i)


def bias_arrays(ctx: ConvertContext, node: onnx.NodeProto, bias: QIn | np.ndarray | None, s_in: float,
                w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 codes, float32 scales) of the bias: zeros with scales s_in * s_w when the node has none; a float
    bias rounded to int32 codes at s_in * s_w (as onnxruntime's quantizers and TFLite's converter do)."""
    n = w_scales.size
    expected = (np.float32(s_in) * w_scales).astype(np.float32)
    if bias is None:
        return np.zeros(n, dtype=np.int32), expected
    if isinstance(bias, np.ndarray):
        if bias.size != n:
            raise ctx.fail(node, f"the bias has {bias.size} values for {n} output channels")
        codes = np.round(bias.astype(np.float64) / expected.astype(np.float64))
        return np.clip(codes, -2**31, 2**31 - 1).astype(np.int32), expected
    if bias.const is None or bias.const.dtype != np.int32:
        raise ctx.fail(node, "the bias must be a DQ of an int32 initializer")
    if np.any(bias.q.zero_point != 0):
        raise ctx.fail(node, "bias zero points must be 0")
    bs = bias.q.scale.reshape(-1).astype(np.float32)
    bs = np.repeat(bs, n) if bs.size == 1 else bs
    rel = np.abs(bs.astype(np.float64) - expected) / np.maximum(expected.astype(np.float64), 1e-30)
    if bs.size != n or np.any(rel > 2.0**-20):
        raise ctx.fail(node, "the bias scale is not s_in * s_w per channel: the int32 bias would be misread by "
                             "TFLite, which takes the bias scale from the input and weight scales")
    return bias.const.reshape(-1), bs


def bias_tensor(ctx: ConvertContext, node: onnx.NodeProto, bias: QIn | np.ndarray | None, s_in: float,
                w_scales: np.ndarray, name: str, repeat: int = 1) -> TensorInfo:
    """The int32 bias tensor (per-channel scales, quantized_dimension 0), tiled ``repeat`` times."""
    codes, scales = bias_arrays(ctx, node, bias, s_in, w_scales)
    codes, scales = np.tile(codes, repeat), np.tile(scales, repeat)
    own = isinstance(bias, QIn) and repeat == 1
    return ctx.b.const(bias.name if own else f"{name}/bias", codes,
                       Quant.make(scales, np.zeros(scales.size), 0))


def bias_tensor_16x8(ctx: ConvertContext, node: onnx.NodeProto, bias: QIn | np.ndarray | None, s_in: float,
                     widen: int, w_scales: np.ndarray, name: str, repeat: int = 1) -> TensorInfo:
    """The int64 bias of a 16x8 convolution (what LiteRT's int16 CONV_2D / DEPTHWISE_CONV_2D kernels read) whose
    int16 input is the ONNX input (scale ``s_in``) widened ``widen`` times (``ConvertContext.widened``): the
    int32 codes times ``widen``, exactly the same values at scale ``(s_in / widen) * s_w``; tiled ``repeat``
    times."""
    codes, _ = bias_arrays(ctx, node, bias, s_in, w_scales)
    scales = np.tile((np.float32(np.float32(s_in) / np.float32(widen)) * w_scales).astype(np.float32), repeat)
    return ctx.b.const(f"{name}/bias_int64", np.tile(codes.astype(np.int64) * widen, repeat),
                       Quant.make(scales, np.zeros(scales.size), 0))
