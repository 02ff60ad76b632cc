"""ONNX LSTM -> Squeeze (one direction, time major), float32 -> TFLite UNIDIRECTIONAL_SEQUENCE_LSTM (float32
weights and states; REVERSE_V2 around it for ``direction="reverse"``)."""

from __future__ import annotations

import numpy as np

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import from_std_layout, to_std_layout
from fqss_edge.export.tflite.ops._lstm import gate_rows, onnx_lstm, write_float_lstm
from fqss_edge.export.tflite.registry import register_float


@register_float("LSTM", writes=(B.UNIDIRECTIONAL_SEQUENCE_LSTM, B.REVERSE_V2, B.TRANSPOSE, B.RESHAPE),
                pattern="LSTM -> Squeeze", constraints="time major, forward or reverse, constant weights, no initial "
                                                       "state; batch fixed")
def convert_lstm(ctx, node) -> None:
    direction, squeeze = onnx_lstm(ctx, node)
    x, out = ctx.input(node, 0), ctx.output(squeeze)
    hidden = int(ctx.g.attr(node, "hidden_size"))
    w, r = ctx.input(node, 1).const, ctx.input(node, 2).const
    bias = ctx.optional_input(node, 3)
    if w is None or r is None or (bias is not None and bias.const is None):
        raise ctx.fail(node, "W, R and B must be constants")
    b = np.zeros(8 * hidden, np.float32) if bias is None else bias.const.reshape(-1)
    b = b[:4 * hidden] + b[4 * hidden:]
    t = from_std_layout(ctx.b, ctx.activation(x, node), x.shape, x.dynamic, x.shape, x.dynamic, f"{out.name}/tbc_in")
    y = write_float_lstm(ctx.b, t, gate_rows(w, hidden), gate_rows(r, hidden), gate_rows(b.reshape(1, -1), hidden),
                         out.name, reverse=direction == "reverse", time_major=True)
    ctx.define(out.name, to_std_layout(ctx.b, y, out.shape, out.dynamic, f"{out.name}/std"))
