"""Writes one direction of a quantized LSTM as TFLite's fully integer UNIDIRECTIONAL_SEQUENCE_LSTM.

The operator has 24 inputs (absent: CIFG's, peephole, projection and layer-norm tensors, written -1), the
output state and cell state as variable tensors, and 5 intermediate tensors: without layer norm the kernel
ignores the first four (the gates are at the fixed 2^-12) and reads the hidden state's quantization from the
fifth, which must be the output's. A backward direction is the same operator between two REVERSE_V2 over time.
See ``reference/lstm.py`` for the arithmetic and the constraints it puts on the scales.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant, TensorInfo
from fqss_edge.export.tflite.reference.lstm import GATE_LOG2, GATES, check_cell_log2
from fqss_edge.quant.layers.lstm import LstmCodes


def _reverse_time(b: ModelBuilder, x: TensorInfo, axis: int, name: str) -> TensorInfo:
    out = b.like(name, x, quant=x.quant)
    b.op(B.REVERSE_V2, [x, b.const(f"{name}/axis", np.array([axis], dtype=np.int32))], [out], version=3)
    return out


def write_lstm(b: ModelBuilder, x: TensorInfo, codes: LstmCodes, state: Quant, name: str,
               reverse: bool = False, time_major: bool = False) -> TensorInfo:
    """UNIDIRECTIONAL_SEQUENCE_LSTM over ``x`` [batch, time, n_input] ([time, batch, n_input] if ``time_major``;
    int8, the batch fixed): the int8 hidden states [batch, time, hidden] (or time major) quantized by ``state``."""
    check_cell_log2(codes.cell_log2, f"TFLite export: {name}")
    if x.dtype != np.int8 or x.quant is None or not x.quant.per_tensor:
        raise ValueError(f"{name}: the integer LSTM takes a per-tensor int8 input")
    t_axis = 0 if time_major else 1
    n_batch, hidden = x.shape[1 - t_axis], codes.w.shape[1]
    s_x = np.float32(x.quant.scale[0])
    src = _reverse_time(b, x, t_axis, f"{name}/reversed_input") if reverse else x
    w = [b.const(f"{name}/input_to_{g}_w", codes.w[k], Quant.make(codes.s_w[k], 0)) for k, g in enumerate(GATES)]
    r = [b.const(f"{name}/recurrent_to_{g}_w", codes.r[k], Quant.make(codes.s_r[k], 0)) for k, g in enumerate(GATES)]
    bias = [b.const(f"{name}/{g}_gate_bias", codes.b[k], Quant.make(np.float32(codes.s_w[k]) * s_x, 0))
            for k, g in enumerate(GATES)]
    out_state = b.tensor(f"{name}/output_state", (n_batch, hidden), np.int8, state, variable=True)
    cell = b.tensor(f"{name}/cell_state", (n_batch, hidden), np.int16, Quant.make(2.0**codes.cell_log2, 0),
                    variable=True)
    gates = [b.tensor(f"{name}/intermediate_{g}", (n_batch, hidden), np.int16, Quant.make(2.0**GATE_LOG2, 0))
             for g in GATES]
    hidden_t = b.tensor(f"{name}/intermediate_hidden", (n_batch, hidden), np.int8, state)
    y = b.tensor(f"{name}/output", (*src.shape[:2], hidden), np.int8, state, (*src.dynamic[:2], False))
    opts = schema.UnidirectionalSequenceLSTMOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.TANH
    opts.timeMajor = time_major
    inputs = [src, *w, *r, None, None, None, *bias, None, None, out_state, cell, None, None, None, None]
    b.op(B.UNIDIRECTIONAL_SEQUENCE_LSTM, inputs, [y], opts, version=1, intermediates=[*gates, hidden_t])
    return _reverse_time(b, y, t_axis, f"{name}/output_reversed") if reverse else y
