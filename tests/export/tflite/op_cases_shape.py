"""One-node cases: data movement: concatenation, reshapes, transposes, padding and slicing."""

from __future__ import annotations

import numpy as np
from op_case_kit import I16, RESIZE, Case, act, out_q
from qdq_builder import QDQ


def _concat(requantize: bool):
    def build(bits):  # requantize: the output is quantized unlike the graph input (a QUANTIZE first)
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        q = act(bits)
        q = (q[0] * 2, q[1], bits) if requantize else q
        r = b.op("Relu", [b.dq(x)], q)
        b.output(b.op("Concat", [b.dq(x), b.dq(r)], q, axis=1))
        return b
    return build


def _shape_op(op, channels, arg, q_out=None, **attrs):
    def build(bits):  # one shape-only op; q_out: a different output quantization (a QUANTIZE follows)
        b = QDQ(channels=channels, length=16)
        x = b.input(*act(bits))
        ins = [b.dq(x)] + ([b.const(np.array(arg, dtype=np.int64))] if arg is not None else [])
        b.output(b.op(op, ins, out_q(bits, *q_out) if q_out else act(bits), **attrs))
        return b
    return build


def c_reshape_squeeze_unsqueeze(bits):  # through ONNX order: [1, 1, 16] -> [1, 16] -> [1, 1, 16] -> [1, 4, 4]
    b = QDQ(channels=1, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    sq = b.op("Squeeze", [b.dq(x), b.const(np.array([1], dtype=np.int64))], q)
    u = b.op("Unsqueeze", [b.dq(sq), b.const(np.array([0], dtype=np.int64))], q)
    b.output(b.op("Reshape", [b.dq(u), b.const(np.array([1, 4, 4], dtype=np.int64))], q))
    return b


def c_reshape_to_sources(bits):  # the decoder's input: [1, S*N, F] -> [1, S, N, F] -> [S, N, F] (a TRANSPOSE)
    b = QDQ(channels=6, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    m = b.op("Reshape", [b.dq(x), b.const(np.array([1, 2, 3, -1], dtype=np.int64))], q)
    b.output(b.op("Reshape", [b.dq(m), b.const(np.array([2, 3, -1], dtype=np.int64))], q))
    return b


def _transpose(channels, length, perm):
    def build(bits):
        b = QDQ(channels=channels, length=length)
        x = b.input(*act(bits))
        b.output(b.op("Transpose", [b.dq(x)], act(bits), perm=perm))
        return b
    return build


def c_pad(bits):  # dual-path segmentation: zeros around the time axis
    b = QDQ(channels=3, length=16)
    x = b.input(*act(bits))
    b.output(b.op("Pad", [b.dq(x), b.const(np.array([0, 0, 2, 0, 0, 5], dtype=np.int64))], act(bits)))
    return b


def _slice(starts, ends, axes):
    def build(bits):  # dual-path segmentation / overlap-add: x[..., P:], x[..., :-P]
        b = QDQ(channels=3, length=16)
        x = b.input(*act(bits))
        c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
        b.output(b.op("Slice", [b.dq(x), c(starts), c(ends), c(axes)], act(bits)))
        return b
    return build


def c_slice_rank4(bits):  # overlap-add: the two halves of [B, N, S, 2K] chunks
    b = QDQ(channels=4, length=16)
    x = b.input(*act(bits))
    q = act(bits)
    x4 = b.op("Reshape", [b.dq(x), b.const(np.array([1, 4, -1, 8], dtype=np.int64))], q)
    c = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
    b.output(b.op("Slice", [b.dq(x4), c([4]), c([8]), c([3])], q))
    return b


# -- the table --------------------------------------------------------------------------------------------------



CASES: dict[str, list[Case]] = {
    "Concat": [Case("concat", _concat(False), I16, tol=0),
               Case("requantize_input", _concat(True), I16)],
    "Reshape": [Case("squeeze_unsqueeze_reshape", c_reshape_squeeze_unsqueeze, I16, tol=0),
                Case("to_sources", c_reshape_to_sources, I16, tol=0),
                Case("requantized", _shape_op("Reshape", 4, [1, 2, -1], (0.03, 1)), I16)],
    "Squeeze": [Case("squeeze", _shape_op("Squeeze", 1, [1]), I16, tol=0)],
    "Unsqueeze": [Case("unsqueeze", _shape_op("Unsqueeze", 3, [1]), I16, tol=0)],
    "Flatten": [Case("flatten", _shape_op("Flatten", 3, None, axis=1), I16, tol=0)],
    "Transpose": [Case("channels_time", _transpose(3, 8, [0, 2, 1]), I16, tol=0),
                  Case("unit_axes", _transpose(3, 1, [0, 2, 1]), I16, tol=0)],
    "Pad": [Case("time", c_pad, I16, tol=0, lengths=RESIZE)],
    "Slice": [Case("drop_head", _slice([4], [2**63 - 1], [2]), I16, tol=0, lengths=RESIZE),
              Case("drop_tail", _slice([0], [-4], [2]), I16, tol=0, lengths=RESIZE),
              Case("rank4_last_axis", c_slice_rank4, I16, tol=0)],
}
