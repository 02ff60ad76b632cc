"""QLSTM: per direction ``DQ(x), DQ(int8 W), DQ(int8 R), DQ(int32 B) -> LSTM -> Squeeze -> Q``; a bidirectional
layer concatenates its two directions (``DQ -> Concat -> Q``, axis 2).

ONNX has no integer LSTM: the node is a float LSTM (time major, ``layout=0``: onnxruntime runs no other;
``direction`` forward or reverse) between DQ and Q, with the checkpoint's integer weights (per tensor: one scale
per gate, written per channel along the 4*hidden axis, ONNX gate order i, o, f, c) and bias (int32 at
``s_x * s_W``; the recurrent bias half is 0). onnxruntime runs it in float: its gates, cell and hidden state are
not rounded at every step as TFLite's integer kernel and the simulation do, so its output is close to, not equal
to, theirs (the onnxruntime flavour replaces the node by the integer arithmetic: ``export/onnx/integer_lstm.py``).
The cell state's power-of-two scale has no place in ONNX's LSTM; it is in the metadata (``fqss.lstm_cell_log2``:
node name -> log2 of the scale), which the TFLite exporter reads.
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.expected import ExpectedConst
from fqss_edge.export.onnx.graph import GraphBuilder, QParams, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QLSTM

ONNX_GATES = [0, 3, 1, 2]  # ONNX i, o, f, c from torch / TFLite i, f, g, o
DIRECTIONS = ("forward", "backward")


def _per_row(scales: tuple[float, ...], hidden: int) -> np.ndarray:
    return np.repeat(np.asarray(scales, dtype=np.float32)[ONNX_GATES], hidden)


def _onnx_rows(a: np.ndarray) -> np.ndarray:
    """[4, hidden, n] in TFLite gate order -> [1, 4 * hidden, n] in ONNX gate order."""
    return a[ONNX_GATES].reshape(1, -1, *a.shape[2:])


def lstm_constants(m: QLSTM, name: str, s_x: float) -> dict[str, ExpectedConst]:
    """The integer weights and biases of each direction as the graph holds them."""
    out = {}
    for d, c in enumerate(m.export(s_x)):
        sfx, hidden = ("_reverse" if d else ""), m.hidden_size
        bias_scale = _per_row(tuple(np.float32(s) * np.float32(s_x) for s in c.s_w), hidden)
        bias = np.concatenate([_onnx_rows(c.b).reshape(1, -1), np.zeros((1, 4 * hidden), np.int32)], axis=1)
        out[f"{name}.weight_ih{sfx}"] = ExpectedConst(_onnx_rows(c.w), _per_row(c.s_w, hidden), 1)
        out[f"{name}.weight_hh{sfx}"] = ExpectedConst(_onnx_rows(c.r), _per_row(c.s_r, hidden), 1)
        out[f"{name}.bias{sfx}"] = ExpectedConst(bias, np.tile(bias_scale, 2), 1)
    return out


def _declared_constants(m: QLSTM, name: str) -> dict[str, ExpectedConst]:
    """Weights only (the bias scale depends on the input's: the verifier checks it structurally)."""
    if not m.enabled or int(m.cell_obs) == 0:
        return {}
    return {k: v for k, v in lstm_constants(m, name, 1.0).items() if ".bias" not in k}


def _declared_activations(m: QLSTM, name: str) -> dict[str, QParams]:
    if m.n_dir == 1 or not m.enabled or not getattr(m.out_quant, "calibrated", True):
        return {}
    return {f"{name}.{d}": QParams.of(m.out_quant) for d in DIRECTIONS}


def _float_inputs(b: GraphBuilder, m: QLSTM, name: str, d: int) -> list[str]:
    sfx, lstm = ("_reverse" if d else ""), m.lstm
    rows = lambda t: _onnx_rows(t.detach().numpy().reshape(4, m.hidden_size, -1))
    w, r = getattr(lstm, f"weight_ih_l0{sfx}"), getattr(lstm, f"weight_hh_l0{sfx}")
    bias = np.concatenate([rows(getattr(lstm, f"bias_ih_l0{sfx}")).reshape(1, -1),
                           rows(getattr(lstm, f"bias_hh_l0{sfx}")).reshape(1, -1)], axis=1)
    return [b.float_const(f"{name}.weight_ih{sfx}", rows(w)), b.float_const(f"{name}.weight_hh{sfx}", rows(r)),
            b.float_const(f"{name}.bias{sfx}", bias)]


def _quantized_inputs(b: GraphBuilder, m: QLSTM, name: str, d: int, s_x: float, node: str) -> list[str]:
    sfx = "_reverse" if d else ""
    consts = lstm_constants(m, name, s_x)
    bits = {"weight_ih": 8, "weight_hh": 8, "bias": 32}
    return [b.quantized_const(f"{name}.{k}{sfx}", consts[f"{name}.{k}{sfx}"].codes,
                              consts[f"{name}.{k}{sfx}"].scale, bits[k], node, axis=1) for k in bits]


@register(QLSTM, constants=_declared_constants, activations=_declared_activations, bias_ops=("LSTM",),
          composites=(("LSTM", "Squeeze"),))
def emit_lstm(b: GraphBuilder, m: QLSTM, name: str, x: TensorRef) -> TensorRef:
    quantized = b.quantized and m.enabled and x.qparams is not None
    outs = []
    for d in range(m.n_dir):
        node = f"{name}.{DIRECTIONS[d]}" if m.n_dir == 2 else name
        params = (_quantized_inputs(b, m, name, d, x.qparams.scale, node) if quantized
                  else _float_inputs(b, m, name, d))
        y = b.node("LSTM", [b.dequantize(x, node), *params], f"{node}/LSTM", hidden_size=m.hidden_size,
                   direction="reverse" if d else "forward")
        if quantized:
            b.lstm_cells[y.rsplit(":", 1)[0]] = m.cell_log2
        y = b.node("Squeeze", [y, b.const("const.axes_1", np.array([1], dtype=np.int64))], f"{node}/Squeeze")
        if m.n_dir == 1:
            return b.quantize(y, m.out_quant, child(name, "out_quant"))
        outs.append(b.quantize_with(y, QParams.of(m.out_quant), node) if quantized else TensorRef(y))
    y = b.node("Concat", [b.dequantize(o, f"{name}/concat") for o in outs], f"{name}/Concat", axis=2)
    return b.quantize(y, m.out_quant, child(name, "out_quant"))

