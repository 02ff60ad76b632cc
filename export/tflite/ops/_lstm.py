"""Writes one direction of a quantized LSTM as TFLite's fully integer UNIDIRECTIONAL_SEQUENCE_LSTM.

The operator has 24 inputs (absent: CIFG's, peephole, projection and layer-norm tensors, written -1), the
output state and cell state as variable tensors, and 5 intermediate tensors: without layer norm the kernel
ignores the first four (the gates are at the fixed 2^-12) and reads the hidden state's quantization from the
fifth, which must be the output's. A backward direction is the same operator between two REVERSE_V2 over time.
See ``reference/lstm.py`` for the arithmetic and the constraints it puts on the scales.
"""

from __future__ import annotations

import numpy as np
import onnx
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import ModelBuilder, Quant, TensorInfo
from fqss_edge.export.tflite.reference.lstm import GATE_LOG2, GATES, check_cell_log2
from fqss_edge.quant.layers.lstm import LstmCodes


def _reverse_time(b: ModelBuilder, x: TensorInfo, axis: int, name: str) -> TensorInfo:
    out = b.like(name, x, quant=x.quant)
    b.op(B.REVERSE_V2, [x, b.const(f"{name}/axis", np.array([axis], dtype=np.int32))], [out])
    return out


def write_lstm(b: ModelBuilder, x: TensorInfo, codes: LstmCodes, state: Quant, name: str,
               reverse: bool = False, time_major: bool = False) -> TensorInfo:
    """UNIDIRECTIONAL_SEQUENCE_LSTM over ``x`` [batch, time, n_input] ([time, batch, n_input] if ``time_major``;
    int8, the batch fixed): the int8 hidden states [batch, time, hidden] (or time major) quantized by ``state``."""
    check_cell_log2(codes.cell_log2, f"TFLite export: {name}")
    if x.dtype != np.int8 or x.quant is None or not x.quant.per_tensor:
        raise ValueError(f"{name}: the integer LSTM takes a per-tensor int8 input")
    hidden = codes.w.shape[1]
    s_x = np.float32(x.quant.scale[0])
    w = [b.const(f"{name}/input_to_{g}_w", codes.w[k], Quant.make(codes.s_w[k], 0)) for k, g in enumerate(GATES)]
    r = [b.const(f"{name}/recurrent_to_{g}_w", codes.r[k], Quant.make(codes.s_r[k], 0)) for k, g in enumerate(GATES)]
    bias = [b.const(f"{name}/{g}_gate_bias", codes.b[k], Quant.make(np.float32(codes.s_w[k]) * s_x, 0))
            for k, g in enumerate(GATES)]
    n_batch = x.shape[1 if time_major else 0]
    gates = [b.tensor(f"{name}/intermediate_{g}", (n_batch, hidden), np.int16, Quant.make(2.0**GATE_LOG2, 0))
             for g in GATES]
    hidden_t = b.tensor(f"{name}/intermediate_hidden", (n_batch, hidden), np.int8, state)
    return _sequence_op(b, x, w, r, bias, (state, Quant.make(2.0**codes.cell_log2, 0)), name, reverse, time_major,
                        [*gates, hidden_t])


def write_float_lstm(b: ModelBuilder, x: TensorInfo, w: np.ndarray, r: np.ndarray, bias: np.ndarray, name: str,
                     reverse: bool = False, time_major: bool = False) -> TensorInfo:
    """The float32 UNIDIRECTIONAL_SEQUENCE_LSTM (``w`` [4, hidden, n_input], ``r``, ``bias`` [4, hidden] in
    ``GATES`` order)."""
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return _sequence_op(b, x, [b.const(f"{name}/input_to_{g}_w", f32(w[k])) for k, g in enumerate(GATES)],
                        [b.const(f"{name}/recurrent_to_{g}_w", f32(r[k])) for k, g in enumerate(GATES)],
                        [b.const(f"{name}/{g}_gate_bias", f32(bias[k])) for k, g in enumerate(GATES)],
                        (None, None), name, reverse, time_major, None)


def _sequence_op(b: ModelBuilder, x: TensorInfo, w: list[TensorInfo], r: list[TensorInfo], bias: list[TensorInfo],
                 state_quant: tuple[Quant | None, Quant | None], name: str, reverse: bool, time_major: bool,
                 intermediates: list[TensorInfo] | None) -> TensorInfo:
    t_axis = 0 if time_major else 1
    n_batch, hidden = x.shape[1 - t_axis], w[0].shape[0]
    if x.dynamic and x.dynamic[1 - t_axis]:
        raise FqssError(f"TFLite export: {name}: the LSTM's batch follows the input length; its state tensors have "
                        "a fixed batch (export with a fixed length)")
    src = _reverse_time(b, x, t_axis, f"{name}/reversed_input") if reverse else x
    integer = intermediates is not None
    out_state = b.tensor(f"{name}/output_state", (n_batch, hidden), np.int8 if integer else np.float32,
                         state_quant[0], variable=True)
    cell = b.tensor(f"{name}/cell_state", (n_batch, hidden), np.int16 if integer else np.float32, state_quant[1],
                    variable=True)
    y = b.tensor(f"{name}/output", (*src.shape[:2], hidden), out_state.dtype, state_quant[0], (*src.dynamic[:2], False))
    opts = schema.UnidirectionalSequenceLSTMOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.TANH
    opts.timeMajor = time_major
    inputs = [src, *w, *r, None, None, None, *bias, None, None, out_state, cell, None, None, None, None]
    b.op(B.UNIDIRECTIONAL_SEQUENCE_LSTM, inputs, [y], opts, intermediates=intermediates)
    return _reverse_time(b, y, t_axis, f"{name}/output_reversed") if reverse else y


# -- the ONNX side, shared by the int8 and the float32 converter ----------------------------------------------
ONNX_TO_GATES = [0, 2, 3, 1]  # ONNX gate rows i, o, f, c -> GATES order i, f, c, o


def onnx_lstm(ctx, node) -> tuple[str, onnx.NodeProto]:
    """Checks an ONNX LSTM the exporters write (time major, one direction, default activations, no clip, no
    initial state, only ``Y`` read, through ``Squeeze(axes=[1])``); returns its direction and that Squeeze."""
    g = ctx.g
    direction = g.attr(node, "direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction not in ("forward", "reverse"):
        raise ctx.fail(node, f"direction {direction!r}: write one LSTM per direction (forward, reverse)")
    if g.attr(node, "layout", 0) != 0:
        raise ctx.fail(node, "layout=1 (batch first): only time-major LSTMs are converted")
    for attr in ("activations", "clip", "activation_alpha", "activation_beta"):
        if g.attr(node, attr) is not None:
            raise ctx.fail(node, f"attribute {attr} is not supported (TFLite's LSTM: sigmoid / tanh, no clip)")
    if g.attr(node, "input_forget", 0):
        raise ctx.fail(node, "input_forget (coupled gates) is not supported")
    if any(i < len(node.input) and node.input[i] for i in (4, 5, 6, 7)):
        raise ctx.fail(node, "sequence_lens, initial states and peepholes are not supported (states start at 0)")
    if any(o for o in node.output[1:] if g.consumers.get(o)):
        raise ctx.fail(node, "Y_h / Y_c are read: only the output sequence Y is converted")
    cons = g.consumers.get(node.output[0], [])
    if len(cons) != 1 or cons[0].op_type != "Squeeze":
        raise ctx.fail(node, "Y must feed exactly one Squeeze (of the direction axis 1)")
    sq = cons[0]
    axes = g.const(sq.input[1]) if len(sq.input) > 1 else None
    if axes is None or [int(a) for a in np.asarray(axes).reshape(-1)] != [1]:
        raise ctx.fail(sq, "the LSTM's Y must be squeezed on axis 1 (its direction axis)")
    ctx.claim(sq)
    return direction, sq


def gate_rows(a: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX [1, 4 * hidden, ...] rows (i, o, f, c) -> [4, hidden, ...] in ``GATES`` order."""
    return a.reshape(4, hidden, *a.shape[2:])[ONNX_TO_GATES]
