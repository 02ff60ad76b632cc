"""ONNX Pad of a quantized tensor (DQ -> Pad -> Q) -> TFLite PAD (constant 0: the zero point), PADV2 (another
constant: its code in the input's quantization) or MIRROR_PAD (mode reflect), then a QUANTIZE when the output is
quantized differently. The pads are translated through the std layout of the tensor's rank; mode edge / wrap have
no TFLite operator and fail naming the node."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import std_layout
from fqss_edge.export.tflite.registry import register


def pad_mode(ctx, node) -> tuple[str, float]:
    """(mode, constant value) of a Pad: "constant" or "reflect" (shared with the float32 converter)."""
    mode = ctx.g.attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode not in ("constant", "reflect"):
        raise ctx.fail(node, f"mode {mode!r} has no TFLite operator (constant: PAD / PADV2, reflect: MIRROR_PAD)")
    value = 0.0
    if len(node.input) > 2 and node.input[2]:
        src = ctx.g.dq_source(node.input[2])
        v = ctx.g.const(node.input[2] if src is None else src[1])
        if v is None or np.asarray(v).size != 1:
            raise ctx.fail(node, "the pad value must be a constant scalar")
        value = float(np.asarray(v, dtype=np.float64).reshape(-1)[0])
        if src is not None:
            value = (value - float(src[2].zero_point.reshape(-1)[0])) * float(src[2].scale.reshape(-1)[0])
    return mode, value


def tflite_paddings(ctx, node, rank: int, shape: tuple[int, ...] | None = None, reflect: bool = False) -> np.ndarray:
    """``[tflite rank, 2]`` int32 paddings over the TFLite axes from the ONNX Pad's constant ``pads`` (and ``axes``);
    ``reflect``: each pad must be smaller than its (fixed) dimension of ``shape``."""
    pads = ctx.g.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if pads is None:
        raise ctx.fail(node, "pads are not constant")
    axes = list(range(rank))
    if len(node.input) > 3 and node.input[3]:
        axes = [int(a) % rank for a in ctx.g.const(node.input[3]).reshape(-1)]
    pads = np.asarray(pads, dtype=np.int64).reshape(-1)
    if np.any(pads < 0):
        raise ctx.fail(node, "negative pads (cropping) are not supported")
    lay = std_layout(rank)
    out = np.zeros((len(lay), 2), dtype=np.int32)
    for i, a in enumerate(axes):
        out[lay.index(a)] = (pads[i], pads[i + len(axes)])
        if reflect and shape is not None and max(pads[i], pads[i + len(axes)]) >= shape[a]:
            raise ctx.fail(node, f"reflect pads {pads[i]}, {pads[i + len(axes)]} on axis {a} of size {shape[a]} "
                                 "(each must be smaller than the axis)")
    return out


def pad_operator(b, mode: str, value_code: object) -> tuple[int, list, object]:
    """(builtin, extra inputs after x and the paddings, options) of a Pad: PAD, PADV2 with ``value_code`` (a
    constant tensor, or None for 0) or MIRROR_PAD (REFLECT)."""
    if mode == "reflect":
        opt = schema.MirrorPadOptionsT()
        opt.mode = schema.MirrorPadMode.REFLECT
        return B.MIRROR_PAD, [], opt
    if value_code is not None:
        return B.PADV2, [value_code], None
    return B.PAD, [], None


@register("Pad", writes=(B.PAD, B.PADV2, B.MIRROR_PAD, B.QUANTIZE), tflite="PAD / PADV2 / MIRROR_PAD (+QUANTIZE)",
          bits=(8, 16),
          constraints="constant pads >= 0 on any axis; mode constant (value 0: PAD, another: PADV2 with its code in the "
                      "input's quantization) or reflect (MIRROR_PAD); an output quantized unlike the input is "
                      "requantized after (QUANTIZE)")
def convert_pad(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    mode, value = pad_mode(ctx, node)
    paddings = tflite_paddings(ctx, node, len(x.shape), x.shape, mode == "reflect")
    t = ctx.activation(x, node)
    code = None
    if mode == "constant" and value != 0.0:  # onnxruntime's QuantizeLinear of the value, in the input's parameters
        info = np.iinfo(x.q.dtype)
        q = np.rint(np.float32(value) / np.float32(x.scalar_scale)) + x.scalar_zp
        code = ctx.b.const(f"{out.name}/value", np.array(np.clip(q, info.min, info.max), dtype=x.q.dtype), t.quant)
    op, extra, opt = pad_operator(ctx.b, mode, code)
    y = ctx.moved_output(x, out, t)
    ctx.b.op(op, [t, ctx.b.const(f"{out.name}/paddings", paddings), *extra], [y], opt)
    ctx.requantized(x, out, y)
