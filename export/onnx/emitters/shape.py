"""QPad, QSlice, QConcat: ``DQ -> Pad | Slice | Concat -> Q`` with the input's own scale and zero point (a
requantizing QConcat: its own output quantizer). GapPad and LengthCrop (amounts that follow the input length) are
refused, naming the reason."""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import GapPad, LengthCrop, QConcat, QPad, QSlice

_END = np.iinfo(np.int64).max


def _ints(b: GraphBuilder, values: list[int]) -> str:
    return b.const("const.ints_" + "_".join(str(v) for v in values), np.array(values, dtype=np.int64))


def _move(b: GraphBuilder, op: str, name: str, x: TensorRef, extra: list[str], **attrs: object) -> TensorRef:
    if x.qparams is None:  # float graph
        return TensorRef(b.node(op, [x.name, *extra], f"{name}/{op}", **attrs))
    return b.same_params(op, x, name, extra, **attrs)


@register(QPad)
def emit_pad(b: GraphBuilder, m: QPad, name: str, x: TensorRef) -> TensorRef:
    return _move(b, "Pad", name, x, [_ints(b, [m.before, m.after]), "", _ints(b, [-1])])  # pads, value 0, axes


@register(QSlice)
def emit_slice(b: GraphBuilder, m: QSlice, name: str, x: TensorRef) -> TensorRef:
    stop = _END if m.stop is None else m.stop
    steps = [_ints(b, [m.step])] if m.step != 1 else []
    return _move(b, "Slice", name, x, [_ints(b, [m.start]), _ints(b, [stop]), _ints(b, [m.dim]), *steps])


@register(QConcat)
def emit_concat(b: GraphBuilder, m: QConcat, name: str, *xs: TensorRef) -> TensorRef:
    if xs[0].qparams is None:
        return TensorRef(b.node("Concat", [x.name for x in xs], f"{name}/Concat", axis=m.dim))
    y = b.node("Concat", [b.dequantize(x, name) for x in xs], f"{name}/Concat", axis=m.dim)
    if m.out_quant is not None:  # each input requantized to the output (a QUANTIZE before CONCATENATION)
        return b.quantize(y, m.out_quant, child(name, "out_quant"))
    return b.quantize_with(y, xs[0].qparams, name)


@register(GapPad, LengthCrop)
def emit_length_dependent(b: GraphBuilder, m: GapPad | LengthCrop, name: str, *xs: TensorRef) -> TensorRef:
    raise FqssError(f"ONNX export: {name}: SpeechBrain's segmentation pads and crops by a gap that follows the input "
                    "length, which a graph with a dynamic time axis cannot hold; Sepformer exports with layout: fqss")
