"""QMatMul (``DQ(a), DQ(b) -> MatMul -> Q``), QSoftmax (``DQ -> Softmax(axis=1) -> Q``, the output at the
fixed scale 1/256, zero point -128) and QPositionalEncoding of a fixed length (``DQ(x), DQ(table) -> Add -> Q``,
the table an int8 constant ``[1, D, L]``)."""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.expected import ExpectedConst
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QMatMul, QPositionalEncoding, QSoftmax
from fqss_edge.quant.layers.attention import TABLE_SCALE


@register(QMatMul)
def emit_matmul(b: GraphBuilder, m: QMatMul, name: str, x: TensorRef, y: TensorRef) -> TensorRef:
    out = b.node("MatMul", [b.dequantize(x, name), b.dequantize(y, name)], f"{name}/MatMul")
    return b.quantize(out, m.out_quant, child(name, "out_quant"))


@register(QSoftmax)
def emit_softmax(b: GraphBuilder, m: QSoftmax, name: str, x: TensorRef) -> TensorRef:
    out = b.node("Softmax", [b.dequantize(x, name)], f"{name}/Softmax", axis=1)
    return b.quantize(out, m.out_quant, child(name, "out_quant"))


def _table_constants(m: QPositionalEncoding, name: str) -> dict[str, ExpectedConst]:
    if m.length is None or not m.add.out_quant.enabled:
        return {}
    return {f"{name}.table": ExpectedConst(m.codes().numpy(), np.array(TABLE_SCALE, dtype=np.float32))}


@register(QPositionalEncoding, constants=_table_constants)
def emit_positional_encoding(b: GraphBuilder, m: QPositionalEncoding, name: str, x: TensorRef) -> TensorRef:
    if m.length is None:
        raise FqssError(f"ONNX export: {name}: a positional encoding whose length follows the input length (the "
                        "inter-chunk one) has no constant table in a graph with a dynamic time axis; Sepformer "
                        "exports with positional_encoding: intra or none")
    if b.quantized:
        table = b.quantized_const(f"{name}.table", m.codes().numpy(), np.array(TABLE_SCALE), 8, name)
    else:
        table = b.float_const(f"{name}.table", m.table.numpy())
    out = b.node("Add", [b.dequantize(x, name), table], f"{name}/Add")
    return b.quantize(out, m.add.out_quant, child(name, "add.out_quant"))
