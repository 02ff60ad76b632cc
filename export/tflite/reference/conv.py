"""CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV on 1-D ``[N, 1, T, C]`` tensors: exact integer sums (float64
holds them exactly, |sums| < 2^53), per-channel requantization."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.export.tflite.fixedpoint import tflite_round
from fqss_edge.export.tflite.reference.tensor import Tensor, f32, qm, requant_out


def conv_geometry(w_in: int, k: int, stride: int, dil: int, padding: int) -> tuple[int, int]:
    """(output length, leading pad) of TFLite's SAME / VALID padding."""
    k_eff = (k - 1) * dil + 1
    if padding == schema.Padding.SAME:
        out = -(-w_in // stride)
        total = max((out - 1) * stride + k_eff - w_in, 0)
        return out, total // 2
    return -(-(w_in - k_eff + 1) // stride), 0


def per_channel(inp: Tensor, filt: Tensor, out: Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-output-channel (multiplier, shift) of s_in * s_w / s_out."""
    fs = filt.scale if filt.scale.size == n else np.repeat(filt.scale, n)
    pairs = [qm(float(inp.s) * float(s) / float(out.s)) for s in fs]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


FUSED_BOUNDS = {schema.ActivationFunctionType.RELU: (0.0, None), schema.ActivationFunctionType.RELU6: (0.0, 6.0),
                schema.ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0)}


def fused_range(opt, out: Tensor) -> tuple[int | None, int | None]:
    """(lo, hi) codes of the fused activation (CalculateActivationRangeQuantized: zp + TfLiteRound(f / scale) in
    float32), None where it does not clamp beyond the type (or the op has no options)."""
    act = schema.ActivationFunctionType.NONE if opt is None else opt.fusedActivationFunction
    if act == schema.ActivationFunctionType.NONE:
        return None, None
    if act not in FUSED_BOUNDS:
        raise FqssError(f"reference: fused activation {act} is not implemented")
    return tuple(None if v is None else out.z + int(tflite_round(float(f32(v) / f32(out.s))))
                 for v in FUSED_BOUNDS[act])


@reference_kernel(B.CONV_2D, B.DEPTHWISE_CONV_2D)
def conv_2d(op: RefOp) -> np.ndarray:
    x, (inp, filt), bias, out, opt = op.inputs[0], op.tensors[:2], op.optional(2), op.out, op.options
    depthwise = op.code == B.DEPTHWISE_CONV_2D
    n, h, w_in, cin = x.shape
    wq = filt.data.astype(np.int64)
    if h != 1 or wq.shape[1] != 1 or opt.strideH not in (0, 1):
        raise FqssError("reference: only 1-D convolutions ([N, 1, T, C]) are implemented")
    k = wq.shape[2]
    s, d = opt.strideW, max(opt.dilationWFactor, 1)
    w_out, pad = conv_geometry(w_in, k, s, d, opt.padding)
    xo = x.astype(np.int64)[:, 0] - inp.z  # [N, W, Cin]; outside the image contributes 0
    xp = np.zeros((n, w_in + (w_out * s + k * d) + pad, cin), dtype=np.float64)
    xp[:, pad:pad + w_in] = xo
    c_out = wq.shape[0] if not depthwise else wq.shape[3]
    acc = np.zeros((n, w_out, c_out), dtype=np.float64)  # exact: |sums| < 2^53
    for kk in range(k):
        tap = xp[:, kk * d: kk * d + (w_out - 1) * s + 1: s]  # [N, Wout, Cin]
        if depthwise:
            mult = c_out // cin
            acc += np.repeat(tap, mult, axis=2) * wq[0, 0, kk][None, None]
        else:  # grouped when the filter has fewer input channels than x (output channel o reads group o // (Cout/g))
            cg = wq.shape[3]
            groups = cin // cg
            og = c_out // groups
            for gi in range(groups):
                acc[..., gi * og:(gi + 1) * og] += (tap[..., gi * cg:(gi + 1) * cg]
                                                    @ wq[gi * og:(gi + 1) * og, 0, kk, :].T.astype(np.float64))
    acc = acc.astype(np.int64)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    m, sh = per_channel(inp, filt, out, c_out)
    # 16x8 (int16 activations, int64 bias): the int64 accumulator's requantization (15-bit multiplier)
    return requant_out(acc, m, sh, out, *fused_range(opt, out), int64=bias is not None and
                       bias.dtype == np.int64)[:, None]


@reference_kernel(B.TRANSPOSE_CONV)
def transpose_conv(op: RefOp) -> np.ndarray:
    """Inputs: output shape, filter [Cout, 1, K, Cin], input, optional bias."""
    out_shape, x, (_, filt, inp), bias, out = op.inputs[0], op.inputs[2], op.tensors[:3], op.optional(3), op.out
    n, h, w_in, cin = x.shape
    wq = filt.data.astype(np.float64)  # [Cout, 1, K, Cin]
    c_out, _, k, _ = wq.shape
    s = op.options.strideW
    w_out = int(out_shape[2])
    _, pad = conv_geometry(w_out, k, s, 1, op.options.padding)
    xo = (x.astype(np.int64)[:, 0] - inp.z).astype(np.float64)
    full = np.zeros((n, (w_in - 1) * s + k + 2 * k, c_out), dtype=np.float64)
    for kk in range(k):
        full[:, kk: kk + (w_in - 1) * s + 1: s] += xo @ wq[:, 0, kk, :].T
    acc = full[:, pad: pad + w_out].astype(np.int64)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    m, sh = per_channel(inp, filt, out, c_out)
    return requant_out(acc, m, sh, out, int64=bias is not None and bias.dtype == np.int64)[:, None]
