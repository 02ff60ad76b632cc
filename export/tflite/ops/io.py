"""Plain graph input and output (models without the FQSS islands: vanilla / PTQ / onnxruntime-quantized).

Input: ``mixture -> QuantizeLinear``. With ``io="int16"`` the TFLite input is int16 PCM (scale 1/32768) and
the quantization is an integer requantization (QUANTIZE int16 -> int8); with ``io="float32"`` a float QUANTIZE.
Output: ``DQ(y) -> [Reshape/Squeeze/Unsqueeze...] -> output``: CAST int8 -> int16 then QUANTIZE int16 -> int16
PCM (saturating outside [-1, 1); tflite-runtime 2.14 has no int8 -> int16 QUANTIZE), or with ``io="float32"`` a DEQUANTIZE of y itself (the ONNX output values exactly).
A rank-3 ``[1, 1, T]`` input is presented as ``[1, T]`` and a ``[1, S, T]`` output as ``[S, T]``.
A model that is not ours (``ctx.plain_io``, ``fqss-edge convert``) keeps each input's and output's own ONNX name
and shape (float32 or, with ``io="quantized"``, the quantized tensor), for any number of inputs and outputs.
"""

from __future__ import annotations

import numpy as np
import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import Quant, TensorInfo
from fqss_edge.export.tflite.context import ConvertContext, GraphContext
from fqss_edge.export.tflite.emit import dequantize, from_std_layout, quantize, to_std_layout
from fqss_edge.export.tflite.registry import register

PCM16 = Quant.make(1.0 / 32768.0, 0)
SHAPE_OPS = ("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten")


def io_name(ctx: GraphContext, ours: str, onnx_name: str) -> str:
    """The TFLite name of a graph input / output: ours (``pcm``, ``sources``, ...) or, with plain I/O, its own."""
    return onnx_name if ctx.plain_io else ours


def app_input_shape(shape: tuple[int, ...], dyn: tuple[bool, ...], plain: bool = False
                    ) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    if not plain and len(shape) == 3 and shape[0] == 1 and shape[1] == 1:
        return (1, shape[2]), (False, dyn[2])
    return shape, dyn


def app_output_shape(shape: tuple[int, ...], dyn: tuple[bool, ...], plain: bool = False
                     ) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    if not plain and len(shape) == 3 and shape[0] == 1:
        return shape[1:], dyn[1:]
    return shape, dyn


def graph_input(ctx: ConvertContext, vi: onnx.ValueInfoProto) -> tuple[TensorInfo, tuple[int, ...], tuple[bool, ...]]:
    """The TFLite input (int16 PCM or float32) in the app shape, and the ONNX shape it stands for."""
    if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise FqssError(f"TFLite export: graph input {vi.name!r} is not float32")
    shape, dyn = ctx.g.shape(vi.name), ctx.g.dynamic(vi.name)
    ashape, adyn = app_input_shape(shape, dyn, ctx.plain_io)
    if ctx.io in ("int16", "quantized"):
        t = ctx.b.tensor(io_name(ctx, "pcm", vi.name), ashape, np.int16, PCM16, adyn)
    else:
        t = ctx.b.tensor(io_name(ctx, "waveform", vi.name), ashape, np.float32, None, adyn)
    ctx.inputs.append(t)
    ctx.facts.setdefault("input", {"onnx_name": vi.name, "onnx_shape": list(shape)})
    return t, shape, dyn


@register("island:input", writes=(B.QUANTIZE, B.RESHAPE, B.TRANSPOSE),
          tflite="QUANTIZE (int16 PCM -> int8, or float32 -> int8)", bits=(8, 16),
          pattern="graph input -> QuantizeLinear",
          constraints="every consumer of the float input is a QuantizeLinear")
def convert_input(ctx: ConvertContext, vi: onnx.ValueInfoProto) -> None:
    cons = ctx.g.consumers.get(vi.name, [])
    if not cons or any(c.op_type != "QuantizeLinear" for c in cons):
        kinds = ", ".join(f"{c.op_type} {c.name!r}" for c in cons) or "nothing"
        raise FqssError(f"TFLite export: the graph input {vi.name!r} must be quantized right away (QuantizeLinear), "
                        f"it feeds {kinds}")
    if ctx.io == "quantized":
        if len(cons) != 1:
            raise FqssError("TFLite export: io='quantized' needs a single QuantizeLinear on the graph input")
        q = ctx.g.qparams(cons[0])
        shape, dyn = ctx.g.shape(vi.name), ctx.g.dynamic(vi.name)
        ashape, adyn = app_input_shape(shape, dyn, ctx.plain_io)
        t = ctx.b.tensor(io_name(ctx, "input", vi.name), ashape, q.dtype, Quant.make(q.scale, q.zero_point), adyn)
        ctx.inputs.append(t)
        ctx.facts.setdefault("input", {"onnx_name": vi.name, "onnx_shape": list(shape)})
        ctx.claim(cons[0])
        ctx.define(cons[0].output[0], to_std_layout(ctx.b, t, shape, dyn, f"{vi.name}/nhwc"))
        return
    t, shape, dyn = graph_input(ctx, vi)
    std = to_std_layout(ctx.b, t, shape, dyn, f"{vi.name}/nhwc")
    for qn in cons:
        ctx.claim(qn)
        q = ctx.g.qparams(qn)
        if not q.per_tensor or q.bits not in (8, 16):
            raise ctx.fail(qn, "the input quantization must be per-tensor int8 or int16")
        quant = Quant.make(q.scale, q.zero_point)
        if std.quant is not None and quant.same_as(std.quant) and std.dtype == q.dtype:
            ctx.define(qn.output[0], std)
        else:
            ctx.define(qn.output[0], quantize(ctx.b, std, q.dtype, quant, qn.output[0]))


def output_source(ctx: ConvertContext, name: str) -> tuple[onnx.NodeProto, list[onnx.NodeProto]]:
    """The DequantizeLinear feeding graph output ``name`` through shape-only nodes, and those nodes."""
    chain = []
    node = ctx.g.producer.get(name)
    while node is not None and node.op_type in SHAPE_OPS:
        chain.append(node)
        node = ctx.g.producer.get(node.input[0])
    if node is None or node.op_type != "DequantizeLinear":
        what = f"{node.op_type} {node.name!r}" if node is not None else "a graph input"
        raise FqssError(f"TFLite export: graph output {name!r} comes from {what}; expected DequantizeLinear "
                        "(-> Reshape) -> output, or the output_reconstruction island")
    return node, chain


def emit_output(ctx: ConvertContext, y: TensorInfo, onnx_shape: tuple[int, ...], onnx_dyn: tuple[bool, ...],
                out_shape: tuple[int, ...], out_dyn: tuple[bool, ...], onnx_name: str = "sources") -> None:
    """A std-layout tensor -> the graph output in the app shape: int16 PCM as is (``io="int16"``), or
    DEQUANTIZE'd to float32 (``io="float32"``: exactly the ONNX DequantizeLinear values)."""
    ashape, adyn = app_output_shape(out_shape, out_dyn, ctx.plain_io)
    name = io_name(ctx, "sources", onnx_name)
    if ctx.io == "int16":
        out = ctx.b.tensor(name, ashape, np.int16, PCM16, adyn)
        from_std_layout(ctx.b, y, onnx_shape, onnx_dyn, ashape, adyn, name, out=out)
    else:
        f = from_std_layout(ctx.b, y, onnx_shape, onnx_dyn, ashape, adyn, f"{name}/{y.dtype}")
        out = dequantize(ctx.b, f, name)
    ctx.outputs.append(out)


@register("island:output", writes=(B.QUANTIZE, B.CAST, B.DEQUANTIZE, B.RESHAPE, B.TRANSPOSE),
          tflite="CAST + QUANTIZE (int8 -> int16 -> int16 PCM) or DEQUANTIZE (float32 I/O)", bits=(8, 16),
          pattern="DQ -> [Reshape|Squeeze|Unsqueeze] -> graph output")
def convert_output(ctx: ConvertContext, vi: onnx.ValueInfoProto) -> None:
    dq, chain = output_source(ctx, vi.name)
    ctx.claim(dq, *chain)
    q = ctx.g.qparams(dq)
    src = dq.input[0]
    if src not in ctx.tensors:
        raise ctx.fail(dq, f"the quantized output {src!r} was not converted")
    y = ctx.tensors[src]
    if ctx.io == "quantized":
        ashape, adyn = app_output_shape(ctx.g.shape(vi.name), ctx.g.dynamic(vi.name), ctx.plain_io)
        name = io_name(ctx, "output", vi.name)
        out = ctx.b.tensor(name, ashape, y.dtype, y.quant, adyn)
        from_std_layout(ctx.b, y, ctx.g.shape(src), ctx.g.dynamic(src), ashape, adyn, name, out=out)
        ctx.outputs.append(out)
        return
    if ctx.io == "int16" and not (y.dtype == np.int16 and y.quant is not None and y.quant.same_as(PCM16)):
        y = quantize(ctx.b, y, np.int16, PCM16, f"{src}/pcm16")  # 16-bit PCM (saturates outside [-1, 1))
    ctx.facts.setdefault("outputs", []).append({"onnx_name": vi.name, "quantized": src, "scale": float(q.scale.reshape(-1)[0]),
                                                "zero_point": int(q.zero_point.reshape(-1)[0])})
    emit_output(ctx, y, ctx.g.shape(src), ctx.g.dynamic(src), ctx.g.shape(vi.name), ctx.g.dynamic(vi.name), vi.name)
