"""One-node cases: the fully integer LSTM (one direction of a QLSTM)."""

from __future__ import annotations

import json

import numpy as np
from op_case_kit import Case, R
from qdq_builder import QDQ


def _lstm(time: int, batch: int, direction: str = "forward", n_in: int = 6, hidden: int = 8):
    """One direction of a QLSTM as its emitter writes it: time major, W / R per gate matrix (one scale per gate,
    written per row, ONNX gate order), int32 bias at s_x * s_W (recurrent half 0), the cell scale in metadata."""
    def build(bits):
        b = QDQ()
        b.in_shape = [time, batch, n_in]
        s_x = 0.04
        x = b.input(s_x, 5)
        gate_w, gate_r = R.uniform(0.004, 0.02, 4).astype(np.float32), R.uniform(0.004, 0.02, 4).astype(np.float32)
        w = b.qconst(R.integers(-127, 128, (1, 4 * hidden, n_in)), np.repeat(gate_w, hidden), axis=1)
        r = b.qconst(R.integers(-127, 128, (1, 4 * hidden, hidden)), np.repeat(gate_r, hidden), axis=1)
        codes = np.concatenate([R.integers(-3000, 3000, 4 * hidden), np.zeros(4 * hidden, np.int64)])
        bq = b.qconst(codes, np.tile(np.repeat(np.float32(s_x) * gate_w, hidden), 2), bits=32, axis=1)
        bq_node = b.nodes[-1]
        bq_node.input[0] = b.const(codes.reshape(1, -1).astype(np.int32), "w")  # B is [1, 8 * hidden]
        y = b.node("LSTM", [b.dq(x), w, r, bq], name="lstm", n_out=1, hidden_size=hidden, direction=direction)
        y = b.node("Squeeze", [y, b.const(np.array([1], dtype=np.int64))])
        b.output(b.q(y, 0.0075, -3))
        b.metadata["fqss.lstm_cell_log2"] = json.dumps({"lstm": -12})
        return b

    return build



CASES: dict[str, list[Case]] = {
    "LSTM": [Case("lstm_batch1", _lstm(20, 1), delegated=False),  # XNNPACK has no LSTM
             Case("lstm_reverse_batch3", _lstm(16, 3, "reverse"), delegated=False)],
}
