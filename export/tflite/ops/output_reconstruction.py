"""The declared ``output_reconstruction`` island: FQSS residual output, 16-bit PCM from two int8 bytes.

ONNX: ``DQ(y0) + DQ(y1) * (1/256) -> Reshape [1, S, T] -> sources`` with y0, y1 int8 of scale 1/128, zero
point 0, i.e. ``sources = (256*q0 + q1) / 32768``. The island is first run (onnxruntime) on all 65536
(q0, q1) pairs to prove that. TFLite, exactly and with integer operators only:

    A = CAST(y0 -> int16), read with scale 1/128   = q0
    B = CAST(y1 -> int16), read with scale 1/32768 = q1
    ADD(A, B) int16 -> scale 1/32768 -> RESHAPE [S, T] = 256*q0 + q1 (saturated to int16)

The int16 ADD (general scales) is exact here: every multiplier it derives is a power of two (inputs 1/2 and
1/512 of twice the larger scale, output 1/64), so ``(q0 << 15) / 2 + (q1 << 15) / 512 = 2^14 q0 + 2^6 q1``
and ``/ 64`` gives ``256 q0 + q1``. No int8 -> int16 QUANTIZE: tflite-runtime 2.14 has no such kernel.

With ``io="float32"`` a DEQUANTIZE (scale 1/32768) follows.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import cast
from fqss_edge.export.tflite.ops._island import island_boundary, run_island
from fqss_edge.export.tflite.ops.input_splitter import BYTE
from fqss_edge.export.tflite.ops.io import PCM16, emit_output
from fqss_edge.export.tflite.registry import register


def _sources(ctx, nodes) -> list:
    """The DQ nodes bringing quantized tensors into the island (inside it or right in front of it)."""
    g = ctx.g
    ins, _ = island_boundary(g, nodes)
    dqs = [n for n in nodes if n.op_type == "DequantizeLinear"]
    inside = {d.input[0] for d in dqs} | {x for d in dqs for x in d.input[1:]}
    for i in ins:
        if i in inside:
            continue
        p = g.producer.get(i)
        if p is None or p.op_type != "DequantizeLinear":
            raise FqssError(f"TFLite export: the output_reconstruction island reads {i!r}, which is not a "
                            "DequantizeLinear output")
        dqs.append(p)
    return dqs


def _verify(ctx, nodes, dq0, dq1, out_name: str) -> None:
    g = ctx.g
    ins = [dq0.input[0], dq1.input[0]]
    shape = g.shape(ins[0])
    n = int(np.prod(shape))
    pairs = np.stack(np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"), -1).reshape(-1, 2)
    allnodes = nodes + [d for d in (dq0, dq1) if d not in nodes]
    for start in range(0, len(pairs), n):
        chunk = pairs[start:start + n]
        q0 = np.zeros(n, dtype=np.int8)
        q1 = np.zeros(n, dtype=np.int8)
        q0[:len(chunk)], q1[:len(chunk)] = chunk[:, 0], chunk[:, 1]
        (y,) = run_island(g, allnodes, {ins[0]: q0.reshape(shape), ins[1]: q1.reshape(shape)}, [out_name])
        want = (256.0 * q0.astype(np.float64) + q1) / 32768.0
        if y.size != n or not np.array_equal(y.reshape(-1).astype(np.float64), want):
            raise FqssError("TFLite export: the output_reconstruction island does not compute (256*q0 + q1) / 32768 "
                            "from its two int8 inputs (checked on all 65536 pairs)")


@register("island:output_reconstruction",
          writes=(B.CAST, B.ADD, B.RESHAPE, B.TRANSPOSE, B.DEQUANTIZE),
          no_twin="a float graph keeps the island's Mul / Add / Reshape nodes, converted one by one",
          tflite="CAST, ADD (int16), RESHAPE (exact PCM16)", bits=(8,),
          pattern="island output_reconstruction/*: DQ(y0) + DQ(y1) * 1/256 -> Reshape -> graph output",
          constraints="y0, y1 int8 scale 1/128 zero point 0; verified on all 65536 byte pairs")
def convert_output_reconstruction(ctx, nodes) -> None:
    g = ctx.g
    ctx.claim(*nodes)
    if len(g.outputs) != 1:
        raise FqssError("TFLite export: a model with the output_reconstruction island must have one output")
    out_name = g.outputs[0].name
    dqs = _sources(ctx, nodes)
    ctx.claim(*dqs)
    if len({d.input[0] for d in dqs}) != 2:
        raise FqssError(f"TFLite export: the output_reconstruction island must read two quantized tensors, it reads "
                        f"{sorted({d.input[0] for d in dqs})}")
    first = {}
    for d in dqs:
        first.setdefault(d.input[0], d)
    a, b = list(first.values())
    for d in (a, b):
        q = g.qparams(d)
        if q.bits != 8 or float(q.scale.reshape(-1)[0]) != 1.0 / 128 or int(q.zero_point.reshape(-1)[0]) != 0:
            raise ctx.fail(d, f"output bytes must be int8 scale 1/128 zero point 0, not {q.describe()}")
    try:
        _verify(ctx, nodes, a, b, out_name)
        dq0, dq1 = a, b
    except FqssError:
        _verify(ctx, nodes, b, a, out_name)
        dq0, dq1 = b, a
    y0, y1 = ctx.tensors.get(dq0.input[0]), ctx.tensors.get(dq1.input[0])
    if y0 is None or y1 is None:
        raise FqssError("TFLite export: the output bytes y0 / y1 were not converted before the output island")
    hi = cast(ctx.b, y0, np.int16, BYTE, "sources/hi")  # q0, scale 1/128 (= 256 q0 / 32768)
    lo = cast(ctx.b, y1, np.int16, PCM16, "sources/lo")  # q1, scale 1/32768
    pcm = ctx.b.tensor("sources/pcm16", y0.shape, np.int16, PCM16, y0.dynamic)
    add = schema.AddOptionsT()
    add.potScaleInt16 = False
    ctx.b.op(B.ADD, [hi, lo], [pcm], add)
    src = dq0.input[0]
    emit_output(ctx, pcm, g.shape(src), g.dynamic(src), g.shape(out_name), g.dynamic(out_name))
    ctx.facts["residual_output"] = True
