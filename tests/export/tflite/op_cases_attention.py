"""One-node cases: attention: batched matrix products over heads, softmax."""

from __future__ import annotations

import numpy as np
from op_case_kit import Case
from qdq_builder import QDQ


def _heads(b: QDQ, x: str, heads: int, q: tuple) -> str:
    """[1, H*d, L] -> [H, d, L] (attention heads as the batch)."""
    return b.op("Reshape", [b.dq(x), b.const(np.array([heads, -1, b.in_shape[2]], dtype=np.int64))], q)


def c_matmul(bits):  # attention: scores = K^T Q over heads ([H, dk, L] -> [H, L, dk] x [H, dk, L])
    b = QDQ(channels=8, length=6)
    x = _heads(b, b.input(0.05, 3), 2, (0.05, 3))
    k = b.op("Relu", [b.dq(x)], (0.03, -128))
    kt = b.op("Transpose", [b.dq(k)], (0.03, -128), perm=[0, 2, 1])
    b.output(b.op("MatMul", [b.dq(kt), b.dq(x)], (0.02, -5)))
    return b


def c_matmul_values(bits):  # attention: out = V P, P the softmax output [H, Lk, Lq]
    b = QDQ(channels=12, length=6)
    x = _heads(b, b.input(0.05, 3), 2, (0.05, 3))
    p = b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1)
    b.output(b.op("MatMul", [b.dq(x), b.dq(p)], (0.03, 1)))
    return b


def c_softmax(bits):
    b = QDQ(channels=14, length=5)
    x = _heads(b, b.input(0.09, -4), 2, (0.09, -4))
    b.output(b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1))
    return b


def c_softmax_wide(bits):  # a larger input scale: many inputs below diff_min (outputs -128)
    b = QDQ(channels=40, length=3)
    x = b.input(0.6, 0)
    b.output(b.op("Softmax", [b.dq(x)], (1 / 256, -128), axis=1))
    return b



CASES: dict[str, list[Case]] = {
    "MatMul": [Case("scores", c_matmul),
               Case("values", c_matmul_values)],
    "Softmax": [Case("softmax", c_softmax),
                Case("wide_input", c_softmax_wide)],
}
