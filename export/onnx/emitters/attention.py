"""QMatMul (``DQ(a), DQ(b) -> MatMul -> Q``) and QSoftmax (``DQ -> Softmax(axis=1) -> Q``, the output at the
fixed scale 1/256, zero point -128)."""

from __future__ import annotations

from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QMatMul, QSoftmax


@register(QMatMul)
def emit_matmul(b: GraphBuilder, m: QMatMul, name: str, x: TensorRef, y: TensorRef) -> TensorRef:
    out = b.node("MatMul", [b.dequantize(x, name), b.dequantize(y, name)], f"{name}/MatMul")
    return b.quantize(out, m.out_quant, child(name, "out_quant"))


@register(QSoftmax)
def emit_softmax(b: GraphBuilder, m: QSoftmax, name: str, x: TensorRef) -> TensorRef:
    out = b.node("Softmax", [b.dequantize(x, name)], f"{name}/Softmax", axis=1)
    return b.quantize(out, m.out_quant, child(name, "out_quant"))
