"""QAdd, QSub, QMul: ``DQ(a), DQ(b) -> Add/Sub/Mul -> Q`` (broadcasting as in PyTorch); a fused ReLU: ``Add -> Relu
-> Q``."""

from __future__ import annotations

from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QAdd, QMul, QSub

_OPS = {QAdd: "Add", QSub: "Sub", QMul: "Mul"}


@register(QAdd, QSub, QMul, composites=(("Add", "Relu"),))
def emit_binary(b: GraphBuilder, m: QAdd, name: str, x: TensorRef, y: TensorRef) -> TensorRef:
    op = _OPS[type(m)]
    out = b.node(op, [b.dequantize(x, name), b.dequantize(y, name)], f"{name}/{op}")
    if m.act == "relu":
        out = b.node("Relu", [out], f"{name}/Relu")
    return b.quantize(out, m.out_quant, child(name, "out_quant"))
