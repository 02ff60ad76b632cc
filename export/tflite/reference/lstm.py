"""UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer ("8x8_16"), and REVERSE_V2 (a backward LSTM runs between two).

The arithmetic of LiteRT's kernel (``kernels/unidirectional_sequence_lstm.cc`` Prepare:
``PopulateQuantizedLstmParams8x8_16`` and ``PopulatePrecomputedZPTimesWeightsWithBias``; ``lstm_eval.cc``
``EvalInteger8x8_16`` -> ``LstmStepInteger8x8_16``; ``portable_tensor_utils.cc``), without CIFG, peephole,
projection or layer norm. Per time step, for a batch row (codes; ``x`` int8, ``h`` the int8 output state,
``c`` the int16 cell state of scale ``2^cell_log2``):

* gate pre-activation of gate ``g`` (input, forget, cell, output), int16 at the fixed scale 2^-12 (Q3.12):
  ``a = clamp16(MBQM(b_g + W_g . (x - zx), M_xg))``, then ``a = clamp16(a + MBQM(R_g . (h - zh), M_hg))``, with
  ``M_xg = float32(s_Wg * s_x) / 2^-12`` and ``M_hg = float32(s_Rg * s_h) / 2^-12`` (QuantizeMultiplier,
  double-rounding MultiplyByQuantizedMultiplier). The bias ``b_g`` is int32 at ``s_x * s_Wg``.
* ``i, f, o = sigmoid(a)`` (gemmlowp logistic, Q3.12 -> Q0.15), ``g = tanh(a)`` (gemmlowp tanh, 3 integer bits).
* ``c = RDBPOT(f * c, 15)``; ``c = clamp16(c + RDBPOT(i * g, 30 + cell_log2))`` (int16 casts: no overflow for
  cell_log2 >= -15); cell clip when ``cell_clip > 0``.
* ``h = clamp8(MBQM(o * tanh_{15 + cell_log2}(c), M_hidden) + z_hidden)`` with
  ``M_hidden = float32(2^-15 / s_hidden * 2^-15)``: the quantization of intermediate 4 (the hidden state)
  is the output's. The output state tensor's scale and zero point enter ``M_hg`` and ``zh``; the three must be
  equal for the recurrence to read what it wrote (TensorFlow's quantizer ties them: ``restrict_scale``).

The integer tanh exists for 0 to 6 integer bits only, so ``cell_log2`` is in [-15, -9] (the kernel writes no
tanh output otherwise). Variable tensors start at their reset value: the output state at its zero point, the
cell state at 0 (``ResetVariableTensor``); LiteRT keeps both between invocations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.fixedpoint import mbqm, quantize_multiplier, rdbpot
from fqss_edge.export.tflite.reference.registry import RefOp, reference_kernel
from fqss_edge.quant.gemmlowp16 import sigmoid_table, tanh_table

GATES = ("input", "forget", "cell", "output")
GATE_LOG2 = -12  # the fixed Q3.12 scale of the gate pre-activations without layer norm
CELL_LOG2_RANGE = (-15, -9)


@dataclass(frozen=True)
class LstmMultipliers:
    """What Prepare derives from the scales: per gate (multiplier, shift) of the input and recurrent products,
    and of the hidden state."""

    input: tuple[tuple[int, int], ...]  # per gate
    recurrent: tuple[tuple[int, int], ...]  # per gate
    hidden: tuple[int, int]


def lstm_multipliers(s_x: float, s_w: list[float], s_r: list[float], s_state: float, s_hidden: float
                     ) -> LstmMultipliers:
    """PopulateQuantizedLstmParams8x8_16 (no layer norm): float32 products divided by the gate scale 2^-12."""
    f32 = np.float32
    gate = f32(2.0**GATE_LOG2)
    inp = tuple(quantize_multiplier(float(f32(f32(w) * f32(s_x)) / gate)) for w in s_w)
    rec = tuple(quantize_multiplier(float(f32(f32(r) * f32(s_state)) / gate)) for r in s_r)
    hidden = quantize_multiplier(float(f32(2.0**-15 / float(f32(s_hidden)) * 2.0**-15)))
    return LstmMultipliers(inp, rec, hidden)


def check_cell_log2(cell_log2: int, where: str) -> None:
    lo, hi = CELL_LOG2_RANGE
    if not lo <= cell_log2 <= hi:
        raise FqssError(f"{where}: LSTM cell state scale 2^{cell_log2}; TFLite's integer LSTM needs 2^{lo} to "
                        f"2^{hi} (its tanh takes 0 to 6 integer bits)")


def _clamp16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -32768, 32767)


def lstm_sequence(x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray, zx: int, zh: int, z_hidden: int,
                  m: LstmMultipliers, cell_log2: int, h0: np.ndarray | None = None, c0: np.ndarray | None = None
                  ) -> np.ndarray:
    """The integer LSTM over ``x`` [batch, time, n_input] (int8 codes): h [batch, time, n_cell] (int8).

    ``w`` [4, n_cell, n_input], ``r`` [4, n_cell, n_cell] int8, ``b`` [4, n_cell] int32, gates in ``GATES`` order."""
    n_batch, n_time, _ = x.shape
    n_cell = w.shape[1]
    sig, tanh3, tanh_c = sigmoid_table(), tanh_table(3), tanh_table(15 + cell_log2)
    w, r = w.astype(np.int64), r.astype(np.int64)
    bias = b.astype(np.int64)
    h = np.full((n_batch, n_cell), zh, dtype=np.int64) if h0 is None else h0.astype(np.int64)
    c = np.zeros((n_batch, n_cell), dtype=np.int64) if c0 is None else c0.astype(np.int64)
    out = np.zeros((n_batch, n_time, n_cell), dtype=np.int8)
    xc = x.astype(np.int64) - zx
    for t in range(n_time):
        hc = h - zh
        gates = []
        for g in range(4):
            a = _clamp16(mbqm(xc[:, t] @ w[g].T + bias[g], *m.input[g]))
            a = _clamp16(a + mbqm(hc @ r[g].T, *m.recurrent[g]))
            gates.append(a)
        i, f, o = (sig[gates[k] + 32768].astype(np.int64) for k in (0, 1, 3))
        g_cell = tanh3[gates[2] + 32768].astype(np.int64)
        c = rdbpot(f * c, 15)
        c = _clamp16(c + rdbpot(i * g_cell, 30 + cell_log2))
        t_c = tanh_c[c + 32768].astype(np.int64)
        h = np.clip(mbqm(o * t_c, *m.hidden) + z_hidden, -128, 127)
        out[:, t] = h
    return out


@reference_kernel(B.UNIDIRECTIONAL_SEQUENCE_LSTM)
def unidirectional_sequence_lstm(op: RefOp) -> np.ndarray:
    x, xt = op.inputs[0], op.tensors[0]
    if xt.dtype != np.int8:
        raise FqssError("reference: only the fully integer (int8 input, 8x8_16) LSTM is implemented")
    opts = op.options
    absent = [k for k in (9, 10, 11, 16, 17) if op.optional(k) is not None]
    absent += [k for k in (20, 21, 22, 23) if op.optional(k) is not None]
    if absent or op.optional(1) is None:
        raise FqssError(f"reference: LSTM with CIFG, peephole, projection or layer norm (inputs {absent}) is not "
                        "implemented")
    if opts.cellClip > 0 or opts.projClip > 0:
        raise FqssError("reference: a clipped LSTM is not implemented")
    if len(op.intermediates) != 5:
        raise FqssError(f"reference: the integer LSTM needs 5 intermediate tensors, got {len(op.intermediates)}")
    weights = [op.tensors[k] for k in range(1, 9)]
    w = np.stack([t.data for t in weights[:4]])
    r = np.stack([t.data for t in weights[4:]])
    b = np.stack([op.tensors[k].data for k in range(12, 16)])
    state, cell, hidden = op.tensors[18], op.tensors[19], op.intermediates[4]
    cell_log2 = int(np.log2(cell.s))
    if 2.0**cell_log2 != cell.s:
        raise FqssError(f"reference: LSTM cell state scale {cell.s} is not a power of two")
    check_cell_log2(cell_log2, "reference")
    m = lstm_multipliers(xt.s, [t.s for t in weights[:4]], [t.s for t in weights[4:]], state.s, hidden.s)
    if opts.timeMajor:
        return lstm_sequence(x.transpose(1, 0, 2), w, r, b, xt.z, state.z, hidden.z, m, cell_log2).transpose(1, 0, 2)
    return lstm_sequence(x, w, r, b, xt.z, state.z, hidden.z, m, cell_log2)


@reference_kernel(B.REVERSE_V2, float32=True)
def reverse_v2(op: RefOp) -> np.ndarray:
    return np.flip(op.inputs[0], axis=tuple(int(a) for a in np.asarray(op.inputs[1]).reshape(-1))).copy()
