"""QMatMul (``DQ(a), DQ(b) -> MatMul -> Q``), QSoftmax (``DQ -> Softmax(axis=1) -> Q``, the output at the
fixed scale 1/256, zero point -128) and QPositionalEncoding (``DQ(x), DQ(table) -> Add -> Q``, the table an int8
constant ``[1, D, L]``; for a length that follows the input, the table's first L frames cut by constant operations
(``_window``))."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.expected import ExpectedConst
from fqss_edge.export.onnx.graph import GraphBuilder, QParams, TensorRef
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
    if not m.add.out_quant.enabled:
        return {}
    return {f"{name}.table": ExpectedConst(m.codes().numpy(), np.array(TABLE_SCALE, dtype=np.float32))}


def _table_activations(m: QPositionalEncoding, name: str) -> dict[str, QParams]:
    """The table's own parameters on the tensors that carry it (a length that follows the input)."""
    if m.length is not None or not m.add.out_quant.enabled:
        return {}
    return {f"{name}.{t}": _TABLE_QP for t in ("first", "table_and_input", "table_window")}


_TABLE_QP = QParams(float(np.float32(TABLE_SCALE)), 0, 8)


def _ints(b: GraphBuilder, *values: int) -> str:
    return b.const("const.ints_" + "_".join(str(v) for v in values), np.array(values, dtype=np.int64))


def _window(b: GraphBuilder, m: QPositionalEncoding, name: str, x: TensorRef, table: str) -> TensorRef:
    """``table[..., :L]`` for the input's ``L`` from constant operations only: ``Concat(table, x[:1])`` along
    time has ``max_len + L`` frames, and ``Slice(0, -max_len)`` of it keeps the first L, all of the table's
    (L <= max_len). ``x[:1]`` joins at the table's scale (the runtimes requantize it; its values are dropped)."""
    first = b.same_params("Slice", x, f"{name}.first_item", [_ints(b, 0), _ints(b, 1), _ints(b, 0)])
    if b.quantized:
        first = b.quantize_with(b.dequantize(first, f"{name}/first"), _TABLE_QP, f"{name}.first")
    joined = b.node("Concat", [table, b.dequantize(first, f"{name}/Concat")], f"{name}/Concat", axis=2)
    joined_ref = b.quantize_with(joined, _TABLE_QP, f"{name}.table_and_input")
    max_len = m.table.shape[-1]
    return b.same_params("Slice", joined_ref, f"{name}.table_window", [_ints(b, 0), _ints(b, -max_len), _ints(b, 2)])


@register(QPositionalEncoding, constants=_table_constants, activations=_table_activations)
def emit_positional_encoding(b: GraphBuilder, m: QPositionalEncoding, name: str, x: TensorRef) -> TensorRef:
    consumer = name if m.length is not None else f"{name}/Concat"
    if b.quantized:
        table = b.quantized_const(f"{name}.table", m.codes().numpy(), np.array(TABLE_SCALE), 8, consumer)
    else:
        table = b.float_const(f"{name}.table", m.table.numpy())
    if m.length is None:
        table = b.dequantize(_window(b, m, name, x, table), name)
    out = b.node("Add", [b.dequantize(x, name), table], f"{name}/Add")
    return b.quantize(out, m.add.out_quant, child(name, "add.out_quant"))
