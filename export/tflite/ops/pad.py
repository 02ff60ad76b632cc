"""ONNX Pad (constant 0) of a quantized tensor (DQ -> Pad -> Q, same quantization) -> TFLite PAD, which pads with
the zero point (real 0). The pads are translated through the std layout of the tensor's rank."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.layout import std_layout
from fqss_edge.export.tflite.registry import register


def tflite_paddings(ctx, node, rank: int) -> np.ndarray:
    """``[tflite rank, 2]`` int32 paddings over the TFLite axes from the ONNX Pad's constant ``pads`` (and ``axes``)."""
    if ctx.g.attr(node, "mode", b"constant") not in (b"constant", "constant"):
        raise ctx.fail(node, "only constant padding is supported")
    pads = ctx.g.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if pads is None:
        raise ctx.fail(node, "pads are not constant")
    if len(node.input) > 2 and node.input[2]:
        value = ctx.g.const(node.input[2])
        if value is None or np.any(np.asarray(value, dtype=np.float64) != 0):
            raise ctx.fail(node, "only padding with 0 is supported")
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
    return out


@register("Pad", writes=(B.PAD, B.QUANTIZE), tflite="PAD (+QUANTIZE)", bits=(8, 16),
          constraints="constant pads >= 0, value 0; an output quantized unlike the input is requantized after "
                      "(QUANTIZE)")
def convert_pad(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    paddings = tflite_paddings(ctx, node, len(x.shape))
    t = ctx.activation(x, node)
    y = ctx.moved_output(x, out, t)
    ctx.b.op(B.PAD, [t, ctx.b.const(f"{out.name}/paddings", paddings)], [y])
    ctx.requantized(x, out, y)
