"""ONNX Clip (DQ -> Clip(min, max) -> Q): torch's ReLU6, Hardtanh, clamp.

The bounds are taken as onnxruntime applies them: ``Q(clip(x, a, b)) = clip(Q(x), Q(a), Q(b))`` (Q is monotone),
so the clamp is exact on the output's codes ``Q(a)``, ``Q(b)``, and a bound the output type cannot pass (the Q
range already clips, as after onnxruntime's quantize_static) writes nothing. Written as:

* a fused RELU / RELU6 / RELU_N1_TO_1 on the CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED in front when that
  activation's clamp codes (TFLite's zp + round(f / s)) are the same and the Clip keeps its input's quantization
  (XNNPACK delegates the fused form);
* else QUANTIZE to the output's parameters (if they differ), then MAXIMUM / MINIMUM with constant codes.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.fixedpoint import tflite_round
from fqss_edge.export.tflite.ops._unary import unary_io
from fqss_edge.export.tflite.ops.relu import FUSABLE, sole_reader
from fqss_edge.export.tflite.registry import register

Act = schema.ActivationFunctionType
FUSED = {Act.RELU: (0.0, None), Act.RELU6: (0.0, 6.0), Act.RELU_N1_TO_1: (-1.0, 1.0)}


def clip_bounds(ctx, node) -> tuple[float | None, float | None]:
    """(min, max) of a Clip: constant inputs 1 and 2 (plain or DQ'd), or the attributes of opset < 11."""
    bounds = []
    for i, what in ((1, "min"), (2, "max")):
        v = None
        if i < len(node.input) and node.input[i]:
            src = ctx.g.dq_source(node.input[i])
            v = ctx.g.const(node.input[i]) if src is None else ctx.g.const(src[1])
            if v is None or np.asarray(v).size != 1:
                raise ctx.fail(node, f"{what} ({node.input[i]!r}) must be a constant scalar")
            if src is not None:
                q = src[2]
                v = (np.asarray(v, np.float64) - float(q.zero_point.reshape(-1)[0])) * float(q.scale.reshape(-1)[0])
            v = float(np.asarray(v, dtype=np.float32).reshape(-1)[0])
        else:
            v = ctx.g.attr(node, what, None)
        bounds.append(None if v is None or not np.isfinite(v) else float(np.float32(v)))
    return bounds[0], bounds[1]


def onnx_code(v: float | None, scale: float, zp: int, dtype: np.dtype, tflite: bool = False) -> int:
    """The output code of the real value ``v`` (None: unbounded, the type's limit), saturated: onnxruntime's
    QuantizeLinear (round half to even), or TFLite's activation-range Quantize (``tflite``: half away from zero)."""
    info = np.iinfo(dtype)
    if v is None:
        return int(info.max)
    r = float(np.float32(v) / np.float32(scale))
    q = tflite_round(r) if tflite else float(np.rint(np.float32(r)))
    return int(min(max(q + zp, info.min), info.max))


def fusable_activation(lo: int, hi: int, scale: float, zp: int, dtype: np.dtype) -> int | None:
    """The fused activation whose clamp codes are exactly (lo, hi), None if none."""
    info = np.iinfo(dtype)
    for act, (a, b) in FUSED.items():
        fa = onnx_code(a, scale, zp, dtype, tflite=True)
        fb = onnx_code(b, scale, zp, dtype, tflite=True)
        if (max(fa, info.min), fb) == (lo, hi):
            return act
    return None


@register("Clip", writes=(B.MAXIMUM, B.MINIMUM, B.QUANTIZE), bits=(8, 16),
          tflite="fused RELU6 / RELU_N1_TO_1 / RELU on the conv or FULLY_CONNECTED in front, else (QUANTIZE +) "
                 "MAXIMUM / MINIMUM",
          constraints="constant scalar min / max (inputs, DQ'd inputs or opset-6 attributes); per-tensor; int16 zero "
                      "points 0; a bound beyond the output's range is dropped")
def convert_clip(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8, 16))
    a, b = clip_bounds(ctx, node)
    s, z, dtype = float(out.q.scale.reshape(-1)[0]), int(out.q.zero_point.reshape(-1)[0]), out.q.dtype
    info = np.iinfo(dtype)
    lo = info.min if a is None else onnx_code(a, s, z, dtype)
    hi = onnx_code(b, s, z, dtype)
    t = ctx.activation(x, node)
    op = ctx.b.producer.get(t.index)
    if x.q.same(out.q) and (lo > info.min or hi < info.max) and op is not None and ctx.b.opcode(op) in FUSABLE \
            and sole_reader(ctx, x.name, node) and op.builtinOptions.fusedActivationFunction == Act.NONE:
        act = fusable_activation(lo, hi, s, z, dtype)
        if act is not None:
            op.builtinOptions.fusedActivationFunction = act
            ctx.define(out.name, t)
            return
    bounds = ([(B.MAXIMUM, "min", lo)] if lo > info.min else []) + ([(B.MINIMUM, "max", hi)] if hi < info.max else [])
    if not x.q.same(out.q):
        t = quantize(ctx.b, t, dtype, out.quant(), f"{out.name}/requantized" if bounds else out.name)
    for k, (code, what, v) in enumerate(bounds):
        c = ctx.b.const(f"{out.name}/{what}", np.full((1,) * len(t.shape), v, dtype=dtype),
                        Quant.make(out.q.scale, out.q.zero_point))
        y = ctx.new_output(out) if k == len(bounds) - 1 else ctx.b.like(f"{out.name}/{what}_clamped", t, quant=t.quant)
        ctx.b.op(code, [t, c], [y])
        t = y
    if not bounds:
        ctx.define(out.name, t)
