"""ONNX ReduceMean (DQ -> ReduceMean(axes, keepdims=1) -> Q) -> TFLite MEAN.

TFLite's quantized MEAN sums into an int32 accumulator. For an int16 input (e.g. the squared deviations of a
gLN) the sum over C x T elements overflows for a few seconds of audio (512 channels x 8000 frames of values
around 2000 already do), and the result is garbage. An int16 mean over the length-dependent axis and other
axes is therefore written as two MEANs: over time first (per channel, kept at the input's scale: at most half
an input step of rounding), then over the rest. The time sum itself overflows only past 65536 frames at full
scale.

``DQ -> ReduceMean(axes=[2]) -> ReduceMean(axes=[1]) -> Q`` (the float composite fqss-edge writes for the means of
int8 tensors: the time mean, then the channel mean, with nothing quantized between) is one MEAN over both axes.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import reshape
from fqss_edge.export.tflite.layout import tflite_axis
from fqss_edge.export.tflite.ops._unary import unary_io, wide_io
from fqss_edge.export.tflite.registry import register


@register("ReduceMean", writes=(B.MEAN, B.QUANTIZE, B.RESHAPE), bits=(8, 16),
          pattern="DQ -> ReduceMean -> Q, or DQ -> ReduceMean -> ReduceMean -> Q (one MEAN over both axes)",
          constraints="keepdims=1; constant axes; int16 zero points 0. int16 over time and channels: MEAN over time, "
                      "then over the rest (the kernel's int32 sum would overflow); time sums overflow past 65536 "
                      "frames at full scale; int8 in and int16 out or the reverse: in int16 (QUANTIZE of the int8 "
                      "side). int8 over the innermost axes (e.g. [T, C]) past 4096 values: RESHAPE to [R, 1, K] "
                      "(K <= 4096 values a row, e.g. [T, 1, C]) and one MEAN over R and K (XNNPACK's own int8 MEAN "
                      "over more than 8192 codes of one sign is wrong)")
def convert_reduce_mean(ctx, node) -> None:
    chain = [node]
    while True:  # float ReduceMean -> ReduceMean composites
        cons = ctx.g.consumers.get(chain[-1].output[0], [])
        if len(cons) != 1 or cons[0].op_type != "ReduceMean" or ctx.is_claimed(cons[0]):
            break
        chain.append(cons[0])
    x, out = unary_io(ctx, node, (8, 16), out_node=chain[-1], mixed=True)
    ctx.claim(*chain)
    rank = len(x.shape)
    axes: set[int] = set()
    for n in chain:
        axes |= _axes(ctx, n, rank)
    axes = sorted(axes)
    t, y, finish = wide_io(ctx, node, x, out)  # int8 <-> int16 (a mixed-precision plan): in int16
    n = int(np.prod([x.shape[a] for a in axes]))
    dyn = [a for a in axes if x.dynamic[a]]  # the time axis: length-dependent, else T of (N, C, T)
    if not dyn and rank == 3 and 2 in axes:
        dyn = [2]
    if not dyn and n * 32767 >= 2**31:
        dyn = [max(axes, key=lambda a: x.shape[a])]
    rest = [a for a in axes if a not in dyn and x.shape[a] != 1]
    if t.dtype == np.int16 and dyn and rest:
        shape = list(t.shape)
        for a in dyn:
            shape[tflite_axis(a, rank)] = 1
        mid = ctx.b.tensor(f"{out.name}/mean_over_time", tuple(shape), t.dtype, t.quant,
                           tuple(d and s != 1 for d, s in zip(t.dynamic, shape)))
        _mean(ctx, t, mid, [tflite_axis(a, rank) for a in dyn], f"{out.name}/time_axes")
        t, axes = mid, rest
    tfl_axes = [tflite_axis(a, rank) for a in axes]
    if t.dtype == np.int8:
        _int8_mean(ctx, t, y, tfl_axes, out.name)
    else:
        _mean(ctx, t, y, tfl_axes, f"{out.name}/axes")
    finish()


# XNNPACK's int8 MEAN over the innermost axis sums each call of its contiguous microkernel in int16 lanes: exact up
# to 8192 values a call with AVX2 (4096 with SSSE3), wrong past them for inputs of one sign (a nonzero zero point)
XNNPACK_ROW_EXACT = 4096


def _int8_mean(ctx, t, y, tfl_axes: list[int], name: str) -> None:
    """An int8 MEAN over the innermost axis (or over adjacent axes ending there) of more than XNNPACK_ROW_EXACT
    values, written as RESHAPE to ``[.., R, 1, K]`` (``K <= XNNPACK_ROW_EXACT`` a divisor of the static innermost
    axes, e.g. ``[T, 1, C]``) and a MEAN over ``R`` and ``K``: the same int32 sum and the same requantization (the
    reference kernel's and BUILTIN_REF's result are unchanged). XNNPACK keeps the unit axis, so it calls its
    contiguous microkernel once per row of ``K`` values and adds the rows in int32: equal to BUILTIN_REF; 0.078 ms
    at 4001 x 512 against 0.720 ms for ``[N, 1]`` over ``N`` and 0.067 ms for one MEAN over ``[T, C]`` (up to 222
    LSB off from 12,800 post-ReLU values on); at 4001 x 64: 0.027, 0.090 and 0.006 ms. Without a static divisor
    > 1 (the innermost axis follows the input length): ``[N, 1]`` over ``N``.
    Measured with ai-edge-litert 2.3: ``benchmarks/results/xnnpack_mean.md``."""
    rank = len(t.shape)
    big = sorted(a for a in tfl_axes if t.shape[a] != 1 or t.dynamic[a])
    if (not big or big != list(range(big[0], big[-1] + 1)) or big[-1] != rank - 1
            or (not any(t.dynamic[a] for a in big) and np.prod([t.shape[a] for a in big]) <= XNNPACK_ROW_EXACT)):
        _mean(ctx, t, y, tfl_axes, f"{name}/axes")  # not over the innermost axis, or one exact call
        return
    lo = big[0]
    last_dyn = max([a for a in big if t.dynamic[a]], default=lo - 1)
    tail = int(np.prod([t.shape[a] for a in big if a > last_dyn]))
    k = max(d for d in range(1, min(tail, XNNPACK_ROW_EXACT) + 1) if tail % d == 0)
    total_dynamic = any(t.dynamic[a] for a in big)
    rows = int(np.prod([t.shape[a] for a in big])) // k
    row = [(rows, total_dynamic), (1, False)] + ([(k, False)] if k > 1 else [])  # [R, 1, K], or [N, 1] over N
    prefix = [(s, d) for s, d in zip(t.shape[:lo], t.dynamic[:lo])]
    while len(prefix) + len(row) > rank and (1, False) in prefix:  # keep the rank: drop unit axes (no-op reductions)
        prefix.remove((1, False))
    shape, dynamic = zip(*prefix, *row)
    merged = reshape(ctx.b, t, shape, dynamic, f"{name}/reduced_rows")
    axes = [len(prefix)] if k == 1 else [len(prefix), len(prefix) + 2]
    out_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
    if out_shape == tuple(y.shape):
        _mean(ctx, merged, y, axes, f"{name}/axes")
        return
    mid = ctx.b.tensor(f"{name}/mean_of_rows", out_shape, y.dtype, y.quant,
                       tuple(d and i not in axes for i, d in enumerate(dynamic)))
    _mean(ctx, merged, mid, axes, f"{name}/axes")
    reshape(ctx.b, mid, y.shape, y.dynamic, f"{name}/mean_reshaped", out=y)


def _axes(ctx, node, rank: int) -> set[int]:
    if int(ctx.g.attr(node, "keepdims", 1)) != 1:
        raise ctx.fail(node, "keepdims=0 is not supported (keep the reduced axes)")
    axes = ctx.g.attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        a = ctx.g.const(node.input[1])
        if a is None:
            raise ctx.fail(node, "axes are not constant")
        axes = [int(v) for v in a.reshape(-1)]
    if axes is None or len(axes) == 0:
        if int(ctx.g.attr(node, "noop_with_empty_axes", 0)):
            raise ctx.fail(node, "noop_with_empty_axes is not supported")
        axes = list(range(rank))
    return {int(a) % rank for a in axes}


def _mean(ctx, x, y, tfl_axes: list[int], name: str) -> None:
    opt = schema.ReducerOptionsT()
    opt.keepDims = True
    ctx.b.op(B.MEAN, [x, ctx.b.const(name, np.array(sorted(tfl_axes), dtype=np.int32))], [y], opt)
