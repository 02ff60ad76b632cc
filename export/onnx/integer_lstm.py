"""The integer LSTM in standard ONNX operators, for onnxruntime (a step of the onnxruntime flavour).

ONNX has no integer LSTM, and onnxruntime no static int8 LSTM kernel: the contract graph holds a float ``LSTM``
between DQ and Q (the TFLite writer reads it with the cell scale from the metadata), which onnxruntime runs in
float, so its hidden state is not rounded at every step as TFLite's integer kernel and the simulation do (on
DPTNet the difference reached the output at 25 dB SQNR). This step replaces each quantized
``LSTM -> Squeeze`` by the kernel's arithmetic (``export/tflite/reference/lstm.py``) in int64 tensors:

* outside the loop, for every time step at once: ``x - zx`` (from the DQ's float output: ``Round(x / s_x)``),
  ``MatMul`` with the int8 input weights (in float32: integer sums below 2^24 are exact; onnxruntime's int64
  ``MatMul`` measured 19x slower than float32 on [81, 128] x [128, 512], 1 thread), the int32 bias, ``MBQM``
  per gate row, clamp to int16;
* a ``Scan`` over time (``scan_input_directions`` reverse for the backward direction) carrying the int8 hidden
  and int16 cell codes: the recurrent ``MatMul``, ``MBQM``, the int16 sum, gemmlowp's sigmoid / tanh as
  ``Gather`` from their int16 tables, the cell update by ``RoundingDivideByPOT``, the hidden state by ``MBQM``,
  and the dequantized hidden state as the scan output (the Q after it gives back its code exactly).

Fixed point in ONNX: ``Div`` of int64 truncates toward zero (C division, as ``SaturatingRoundingDoublingHighMul``
needs) and ``Mod`` (fmod 0) of a positive divisor is non-negative, so ``RoundingDivideByPOT`` is
``(x - x mod 2^e) / 2^e + (x mod 2^e > mask / 2 + (x < 0))``. Every product fits int64.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.reference.lstm import lstm_multipliers
from fqss_edge.quant.gemmlowp16 import sigmoid_table, tanh_table

CELL_KEY = "fqss.lstm_cell_log2"
ONNX_GATES = ("i", "o", "f", "c")  # ONNX's gate order; TFLite's is i, f, c (g), o


class _Nodes:
    """Nodes and int64 constants of one graph (the top level or the Scan body), named under a prefix."""

    def __init__(self, prefix: str, inits: list[onnx.TensorProto]):
        self.prefix, self.inits, self.nodes, self.k = prefix, inits, [], 0
        self.names: set[str] = set()

    def const(self, name: str, value: np.ndarray | int, dtype=np.int64) -> str:
        full = f"{self.prefix}{name}"
        while full in self.names:
            full += "_"
        self.names.add(full)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), full))
        return full

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        self.k += 1
        out = f"{self.prefix}{op_type.lower()}_{self.k}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def int_matmul(self, x: str, weights: np.ndarray, tag: str) -> str:
        """``x @ weights`` of integer codes (|x| <= 255, |w| <= 128): a float32 MatMul (every partial sum is an
        integer below 2^24, so exact in any order) or float64 for longer rows, back to int64."""
        to = TensorProto.FLOAT if weights.shape[0] * 255 * 128 < 2**24 else TensorProto.DOUBLE
        w = self.op("Cast", [self.const(tag, weights, np.int8)], to=to)  # int8 in the file, folded at load
        y = self.op("MatMul", [self.op("Cast", [x], to=to), w])
        return self.op("Cast", [y], to=TensorProto.INT64)

    def clip(self, x: str, lo: int, hi: int, tag: str) -> str:
        return self.op("Clip", [x, self.const(f"{tag}_lo", lo), self.const(f"{tag}_hi", hi)])

    def rdbpot(self, x: str, exponent: np.ndarray | int, tag: str) -> str:
        """gemmlowp RoundingDivideByPOT (per element exponents broadcast along the last axis)."""
        e = np.asarray(exponent, dtype=np.int64)
        mask = (np.int64(1) << e) - 1
        pot = self.const(f"{tag}_pot", mask + 1)
        rem = self.op("Mod", [x, pot], fmod=0)
        floor = self.op("Div", [self.op("Sub", [x, rem]), pot])
        threshold = self.op("Add", [self.const(f"{tag}_half", mask >> 1),
                                    self.op("Cast", [self.op("Less", [x, self.const(f"{tag}_zero", 0)])],
                                            to=TensorProto.INT64)])
        return self.op("Add", [floor, self.op("Cast", [self.op("Greater", [rem, threshold])], to=TensorProto.INT64)])

    def mbqm(self, x: str, multiplier: np.ndarray | int, shift: np.ndarray | int, tag: str) -> str:
        """MultiplyByQuantizedMultiplier (int32 x held in int64; double rounding)."""
        shift = np.asarray(shift, dtype=np.int64)
        left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
        if np.any(left):
            x = self.op("Mul", [x, self.const(f"{tag}_left", np.int64(1) << left)])
            wrapped = self.op("Mod", [self.op("Add", [x, self.const(f"{tag}_2p31", 2**31)]),
                                      self.const(f"{tag}_2p32", 2**32)], fmod=0)
            x = self.op("Sub", [wrapped, self.const(f"{tag}_2p31b", 2**31)])
        ab = self.op("Mul", [x, self.const(f"{tag}_m", multiplier)])
        nudge = self.op("Where", [self.op("Less", [ab, self.const(f"{tag}_zero", 0)]),
                                  self.const(f"{tag}_nudge_neg", 1 - (1 << 30)), self.const(f"{tag}_nudge", 1 << 30)])
        high = self.op("Div", [self.op("Add", [ab, nudge]), self.const(f"{tag}_2p31d", 2**31)])
        return self.rdbpot(high, right, f"{tag}_r")


def _init(inits: dict[str, onnx.TensorProto], name: str) -> np.ndarray:
    if name not in inits:
        raise FqssError(f"integer LSTM: {name} is not a constant")
    return numpy_helper.to_array(inits[name])


def _dq(producer: dict[str, onnx.NodeProto], inits: dict[str, onnx.TensorProto], name: str
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, scale, zero point) of a DequantizeLinear of a constant."""
    node = producer.get(name)
    if node is None or node.op_type != "DequantizeLinear":
        raise FqssError(f"integer LSTM: {name} is not a DequantizeLinear output")
    zp = _init(inits, node.input[2]) if len(node.input) > 2 else np.zeros((), np.int64)
    return _init(inits, node.input[0]), _init(inits, node.input[1]), zp


def _per_row(pairs: tuple[tuple[int, int], ...], hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite-order (i, f, g, o) per-gate (multiplier, shift) -> per row of the ONNX-order [4 * hidden] axis."""
    onnx_order = [pairs[k] for k in (0, 3, 1, 2)]
    return (np.repeat([p[0] for p in onnx_order], hidden).astype(np.int64),
            np.repeat([p[1] for p in onnx_order], hidden).astype(np.int64))


def _gate_scales(scale: np.ndarray, hidden: int) -> list[float]:
    """Per-row scales of the ONNX-order [4 * hidden] axis -> one scale per gate, TFLite order."""
    per_gate = np.asarray(scale, dtype=np.float32).reshape(-1)[::hidden]
    return [float(per_gate[k]) for k in (0, 2, 3, 1)]


def _body(name: str, hidden: int, zh: int, s_h: float, rec: np.ndarray, m_rec: tuple, m_hidden: tuple,
          cell_log2: int, tables: dict[str, str]) -> onnx.GraphProto:
    inits: list[onnx.TensorProto] = []
    g = _Nodes(f"{name}/step/", inits)
    h, c, gx = f"{name}/step/h", f"{name}/step/c", f"{name}/step/gate_x"
    rec_acc = g.int_matmul(g.op("Sub", [h, g.const("zh", zh)]), rec.T, "recurrent")
    a = g.clip(g.op("Add", [gx, g.mbqm(rec_acc, *m_rec, "rec")]), -32768, 32767, "gate")
    split = f"{name}/step/gates"
    g.nodes.append(helper.make_node("Split", [a, g.const("split", [hidden] * 4)],
                                    [f"{split}_{k}" for k in ONNX_GATES], name=split, axis=1))

    def table(kind: str, x: str) -> str:
        index = g.op("Add", [x, g.const(f"{kind}_offset", 32768)])
        return g.op("Cast", [g.op("Gather", [tables[kind], index], axis=0)], to=TensorProto.INT64)

    i, o, f = (table("sigmoid", f"{split}_{k}") for k in ("i", "o", "f"))
    cell_in = table("tanh3", f"{split}_c")
    c_new = g.rdbpot(g.op("Mul", [f, c]), 15, "forget")
    c_new = g.clip(g.op("Add", [c_new, g.rdbpot(g.op("Mul", [i, cell_in]), 30 + cell_log2, "input")]),
                   -32768, 32767, "cell")
    h_new = g.mbqm(g.op("Mul", [o, table("tanh_cell", c_new)]), *m_hidden, "hidden")
    h_new = g.clip(g.op("Add", [h_new, g.const("z_hidden", zh)]), -128, 127, "h")
    y = g.op("Mul", [g.op("Cast", [g.op("Sub", [h_new, g.const("zh_out", zh)])], to=TensorProto.FLOAT),
                     g.const("s_h", s_h, np.float32)])
    g.nodes += [helper.make_node("Identity", [h_new], [f"{name}/step/h_out"]),
                helper.make_node("Identity", [c_new], [f"{name}/step/c_out"]),
                helper.make_node("Identity", [y], [f"{name}/step/y"])]
    int64 = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, None)
    return helper.make_graph(g.nodes, f"{name}/step", [int64(h), int64(c), int64(gx)],
                             [int64(f"{name}/step/h_out"), int64(f"{name}/step/c_out"),
                              helper.make_tensor_value_info(f"{name}/step/y", TensorProto.FLOAT, None)], inits)


def _tables(graph: onnx.GraphProto, cell_log2: int) -> dict[str, str]:
    """The int16 sigmoid / tanh tables (index: code + 32768), one initializer per kind in the graph."""
    have = {i.name for i in graph.initializer}
    out = {}
    for key, kind, values in (("sigmoid", "sigmoid", sigmoid_table), ("tanh3", "tanh3", lambda: tanh_table(3)),
                              ("tanh_cell", f"tanh{15 + cell_log2}", lambda: tanh_table(15 + cell_log2))):
        name = f"integer_lstm.{kind}_table"
        if name not in have:
            graph.initializer.append(numpy_helper.from_array(np.asarray(values(), dtype=np.int16), name))
            have.add(name)
        out[key] = name
    return out


def integer_lstms(model: onnx.ModelProto) -> int:
    """Replace every quantized ``LSTM -> Squeeze -> QuantizeLinear`` by the integer arithmetic (in place); the
    number replaced."""
    graph = model.graph
    cells = json.loads({p.key: p.value for p in model.metadata_props}.get(CELL_KEY, "{}"))
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    replaced, drop = 0, []
    for lstm in [n for n in graph.node if n.op_type == "LSTM" and n.name in cells]:
        squeeze = consumers.get(lstm.output[0], [])
        if len(squeeze) != 1 or squeeze[0].op_type != "Squeeze":
            raise FqssError(f"integer LSTM: {lstm.name} is not followed by one Squeeze")
        squeeze = squeeze[0]
        q = consumers.get(squeeze.output[0], [])
        if len(q) != 1 or q[0].op_type != "QuantizeLinear":
            raise FqssError(f"integer LSTM: {lstm.name}'s output is not quantized")
        s_h, zh = float(_init(inits, q[0].input[1])), int(_init(inits, q[0].input[2]))
        attrs = {a.name: helper.get_attribute_value(a) for a in lstm.attribute}
        hidden, reverse = int(attrs["hidden_size"]), attrs.get("direction", b"forward") in (b"reverse", "reverse")
        x_dq = producer[lstm.input[0]]
        s_x = float(_init(inits, x_dq.input[1]))  # Round(DQ(x) / s_x) is x - zx
        w, s_w, _ = _dq(producer, inits, lstm.input[1])
        r, s_r, _ = _dq(producer, inits, lstm.input[2])
        bias, _, _ = _dq(producer, inits, lstm.input[3])
        cell_log2 = int(cells[lstm.name])
        m = lstm_multipliers(s_x, _gate_scales(s_w, hidden), _gate_scales(s_r, hidden), s_h, s_h)
        name = lstm.name.rsplit("/", 1)[0] + "/integer"
        top = _Nodes(f"{name}/", [])
        xc = top.op("Cast", [top.op("Round", [top.op("Div", [lstm.input[0], top.const("s_x", s_x, np.float32)])])],
                    to=TensorProto.INT64)
        acc = top.op("Add", [top.int_matmul(xc, w.reshape(4 * hidden, -1).T.astype(np.int64), "input_weights"),
                             top.const("bias", bias.reshape(-1)[:4 * hidden])])
        gate_x = top.clip(top.mbqm(acc, *_per_row(m.input, hidden), "in"), -32768, 32767, "gate_x")
        shape = top.op("Concat", [top.op("Slice", [top.op("Shape", [gate_x]), top.const("b0", [1]),
                                                   top.const("b1", [2])]), top.const("hidden", [hidden])], axis=0)
        h0 = top.op("Expand", [top.const("h0", zh), shape])
        c0 = top.op("Expand", [top.const("c0", 0), shape])
        body = _body(name, hidden, zh, s_h, r.reshape(4 * hidden, hidden).astype(np.int64),
                     _per_row(m.recurrent, hidden), m.hidden, cell_log2, _tables(graph, cell_log2))
        direction = [1 if reverse else 0]
        scan = helper.make_node("Scan", [h0, c0, gate_x], [f"{name}/h_last", f"{name}/c_last", squeeze.output[0]],
                                name=f"{name}/Scan", num_scan_inputs=1, body=body,
                                scan_input_directions=direction, scan_output_directions=direction)
        at = list(graph.node).index(lstm)
        for k, node in enumerate([*top.nodes, scan]):
            graph.node.insert(at + k, node)
        graph.initializer.extend(top.inits)
        drop += [lstm, squeeze] + [producer[i] for i in lstm.input[1:4]]
        replaced += 1
    for node in drop:
        graph.node.remove(node)
    used = {i for n in graph.node for i in n.input} | _subgraph_inputs(graph)
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return replaced


def _subgraph_inputs(graph: onnx.GraphProto) -> set[str]:
    """Names the Scan bodies read from the outer scope."""
    out = set()
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out |= {i for node in a.g.node for i in node.input}
    return out
