"""ONNX LSTM (per direction: DQ(x), DQ(int8 W), DQ(int8 R), DQ(int32 B) -> LSTM -> Squeeze -> Q) -> TFLite's fully
integer UNIDIRECTIONAL_SEQUENCE_LSTM (time major; REVERSE_V2 around it for ``direction="reverse"``).

The weights must be per tensor per gate (one scale over each gate's rows), the bias int32 at ``s_x * s_W``, the
cell scale given by the model's metadata (``fqss.lstm_cell_log2``, written by the QLSTM emitter: ONNX's LSTM
has no place for it). The output quantization is the hidden state's (output, output state and the 5th
intermediate share it). ONNX ``[T, B, C]`` tensors are ``[T, 1, C, B]`` in the TFLite layout, so a TRANSPOSE
brings the input to ``[T, B, C]`` and one takes the output back (RESHAPEs only when B = 1).
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant
from fqss_edge.export.tflite.emit import from_std_layout, to_std_layout
from fqss_edge.export.tflite.ops._lstm import gate_rows, onnx_lstm, write_lstm
from fqss_edge.export.tflite.registry import register
from fqss_edge.quant.layers.lstm import LstmCodes


def _per_gate_scales(ctx, node, scale: np.ndarray, hidden: int, what: str) -> tuple[float, ...]:
    s = np.broadcast_to(np.asarray(scale, np.float32).reshape(-1), (4 * hidden,)).reshape(4, hidden)
    if np.any(s != s[:, :1]):
        raise ctx.fail(node, f"{what}: TFLite's integer LSTM has one scale per gate matrix (per tensor)")
    return tuple(float(v) for v in s[:, 0][[0, 2, 3, 1]])


def _weights(ctx, node, i: int, hidden: int, what: str) -> tuple[np.ndarray, tuple[float, ...]]:
    w = ctx.qinput(node, i)
    if w.const is None or w.const.dtype != np.int8 or np.any(w.q.zero_point != 0):
        raise ctx.fail(node, f"{what}: a DQ of an int8 initializer with zero points 0 is expected")
    return gate_rows(w.const, hidden), _per_gate_scales(ctx, node, w.q.scale, hidden, what)


@register("LSTM", writes=(B.UNIDIRECTIONAL_SEQUENCE_LSTM, B.REVERSE_V2, B.TRANSPOSE, B.RESHAPE),
          tflite="UNIDIRECTIONAL_SEQUENCE_LSTM (+REVERSE_V2 for reverse, TRANSPOSE/RESHAPE to [T, B, C])",
          pattern="DQ -> LSTM -> Squeeze -> Q (one direction; Concat of the two for a bidirectional layer)",
          constraints="time major, forward or reverse; int8 weights per gate matrix, int32 bias at s_x*s_W; cell "
                      "scale 2^-15..2^-9 from metadata fqss.lstm_cell_log2; batch fixed (state tensors); states "
                      "start at 0")
def convert_lstm(ctx, node) -> None:
    direction, squeeze = onnx_lstm(ctx, node)
    x = ctx.qinput(node, 0)
    out = ctx.qoutput(squeeze)
    if x.bits != 8 or out.bits != 8:
        raise ctx.fail(node, "the integer LSTM takes and gives int8 (8x8_16)")
    hidden = int(ctx.g.attr(node, "hidden_size"))
    w, s_w = _weights(ctx, node, 1, hidden, "W")
    r, s_r = _weights(ctx, node, 2, hidden, "R")
    bias = ctx.optional_qinput(node, 3)
    b_codes = np.zeros((4, hidden), np.int32)
    if bias is not None:
        if bias.const is None or bias.const.dtype != np.int32:
            raise ctx.fail(node, "B must be a DQ of an int32 initializer")
        halves = bias.const.reshape(2, 4 * hidden)
        want = np.repeat(np.float32(x.scalar_scale) * np.asarray(s_w, np.float32)[[0, 3, 1, 2]], hidden)
        scales = np.broadcast_to(np.asarray(bias.q.scale, np.float32).reshape(-1), (8 * hidden,))
        if np.any(halves[1] != 0) or np.any(scales[:4 * hidden] != want):
            raise ctx.fail(node, "B: int32 codes at s_x * s_W for the input half and 0 for the recurrent half "
                                 "are expected (TFLite has one bias per gate)")
        b_codes = gate_rows(halves[0], hidden).astype(np.int32)
    cells = ctx.g.metadata_json("fqss.lstm_cell_log2", {}) or {}
    if node.name not in cells:
        raise ctx.fail(node, "no cell state scale in the model's metadata (fqss.lstm_cell_log2)")
    codes = LstmCodes(w, s_w, r, s_r, b_codes, int(cells[node.name]))
    t = from_std_layout(ctx.b, ctx.activation(x, node), x.shape, x.dynamic, x.shape, x.dynamic, f"{out.name}/tbc_in")
    y = write_lstm(ctx.b, t, codes, Quant.make(out.q.scale, out.q.zero_point), out.name,
                   reverse=direction == "reverse", time_major=True)
    ctx.define(out.name, to_std_layout(ctx.b, y, out.shape, out.dynamic, f"{out.name}/std"))
