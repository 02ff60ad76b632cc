"""ONNX Transpose on a quantized tensor (DQ -> Transpose -> Q, same quantization) -> TFLite TRANSPOSE.

The permutation is translated through the std layouts of the input and output ranks (equal ranks)."""

from __future__ import annotations

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import transpose
from fqss_edge.export.tflite.layout import std_layout
from fqss_edge.export.tflite.registry import register


def tflite_perm(perm: list[int], rank: int) -> tuple[int, ...]:
    """The TFLite permutation of an ONNX ``perm`` over a rank-``rank`` tensor in its std layout."""
    lay = std_layout(rank)
    return tuple(lay.index(-1 if p < 0 else perm[p]) for p in lay)


def onnx_perm(ctx, node, rank: int) -> list[int]:
    perm = ctx.g.attr(node, "perm", None)
    return list(range(rank))[::-1] if perm is None else [int(p) % rank for p in perm]


@register("Transpose", writes=(B.TRANSPOSE, B.RESHAPE, B.QUANTIZE),
          tflite="TRANSPOSE (RESHAPE when only unit axes move) (+QUANTIZE)", bits=(8, 16),
          constraints="any permutation, ranks 1 to 4; an output quantized unlike the input is requantized after "
                      "(QUANTIZE)")
def convert_transpose(ctx, node) -> None:
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(node)
    perm = tflite_perm(onnx_perm(ctx, node, len(x.shape)), len(x.shape))
    y = transpose(ctx.b, ctx.activation(x, node), perm, out.name if x.q.same(out.q) else f"{out.name}/moved")
    ctx.requantized(x, out, y)
