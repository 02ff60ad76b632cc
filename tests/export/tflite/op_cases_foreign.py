"""One-node cases: the operators of QDQ graphs other quantizers emit (onnxruntime quantize_static, Brevitas,
PT2E): a torch Linear as Gemm or MatMul with a constant weight, ..."""

from __future__ import annotations

import numpy as np
from op_case_kit import RESIZE, Case, R, bias, wq
from qdq_builder import QDQ


def c_gemm_linear(bits):  # torch Linear on [B, K]: transB=1, weights per output channel (axis 0), int32 bias
    b = QDQ()
    b.in_shape = [2, 16]
    x = b.input(0.05, 3)
    w, s = wq((8, 16), 8)
    b.output(b.op("Gemm", [b.dq(x), b.qconst(w, s, axis=0), bias(b, 0.05, s)], (0.08, -5), transB=1))
    return b


def c_gemm_weight_kn_per_tensor(bits):  # transB=0 ([K, N] weight), one weight scale, no bias
    b = QDQ()
    b.in_shape = [3, 10]
    x = b.input(0.04, -7)
    w = b.qconst(R.integers(-127, 128, (10, 5)), np.float32(0.013))
    b.output(b.op("Gemm", [b.dq(x), w], (0.06, 2)))
    return b


def c_matmul_linear_time(bits):  # Linear on [B, T, C] between two Transposes: FULLY_CONNECTED over channels
    b = QDQ(channels=6, length=12)
    x = b.input(0.05, -4)
    xt = b.op("Transpose", [b.dq(x)], (0.05, -4), perm=[0, 2, 1])
    w, s = wq((6, 5), 5)
    y = b.op("MatMul", [b.dq(xt), b.qconst(w, s, axis=1)], (0.07, 6))
    b.output(b.op("Transpose", [b.dq(y)], (0.07, 6), perm=[0, 2, 1]))
    return b


def c_matmul_linear_rank4(bits):  # Linear on the last axis of a rank-4 activation
    b = QDQ()
    b.in_shape = [1, 2, 5, 6]
    x = b.input(0.05, 1)
    w, s = wq((6, 4), 4)
    b.output(b.op("MatMul", [b.dq(x), b.qconst(w, s, axis=1)], (0.07, -2)))
    return b


CASES: dict[str, list[Case]] = {
    "Gemm": [Case("linear", c_gemm_linear),
             Case("weight_kn_per_tensor", c_gemm_weight_kn_per_tensor)],
    "MatMul": [Case("linear_over_channels", c_matmul_linear_time, lengths=RESIZE),
               Case("linear_rank4", c_matmul_linear_rank4)],
}
