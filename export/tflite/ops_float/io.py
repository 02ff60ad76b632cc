"""Graph input and outputs of a float model: float32 waveform ``[1, T]`` in, float32 sources ``[n_src, T]`` out.

Input: ``mixture [1, 1, T]`` is presented as ``[1, T]`` (as in the integer files) and RESHAPEd to the NHWC
``[1, 1, T, 1]``. Output: the tensor in front of ``[Reshape/Squeeze/Unsqueeze...] -> sources`` is laid out
once into ``[n_src, T]`` (a RESHAPE, or TRANSPOSE + RESHAPE when the NHWC order needs it).
"""

from __future__ import annotations

import numpy as np
import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.emit import from_std_layout, to_std_layout
from fqss_edge.export.tflite.float_context import FloatContext
from fqss_edge.export.tflite.ops.io import SHAPE_OPS, app_input_shape, app_output_shape, io_name
from fqss_edge.export.tflite.registry import register_float


@register_float("island:input", writes=(B.RESHAPE, B.TRANSPOSE), tflite="RESHAPE (float32 [1, T] -> [1, 1, T, 1])",
                pattern="graph input", constraints="one float32 input; [1, 1, T] is presented as [1, T] (plain I/O, `fqss-edge convert`: every input as it is)")
def convert_input(ctx: FloatContext, vi: onnx.ValueInfoProto) -> None:
    if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise FqssError(f"TFLite export (float32): graph input {vi.name!r} is not float32")
    shape, dyn = ctx.g.shape(vi.name), ctx.g.dynamic(vi.name)
    ashape, adyn = app_input_shape(shape, dyn, ctx.plain_io)
    t = ctx.b.tensor(io_name(ctx, "waveform", vi.name), ashape, np.float32, None, adyn)
    ctx.inputs.append(t)
    ctx.facts.setdefault("input", {"onnx_name": vi.name, "onnx_shape": list(shape)})
    ctx.define(vi.name, to_std_layout(ctx.b, t, shape, dyn, f"{vi.name}/nhwc"))


@register_float("island:output", writes=(B.RESHAPE, B.TRANSPOSE), tflite="RESHAPE (+TRANSPOSE if the layout needs it)",
                pattern="op -> [Reshape|Squeeze|Unsqueeze|Identity|Flatten] -> graph output",
                constraints="[1, S, T] is presented as [S, T]")
def convert_output(ctx: FloatContext, vi: onnx.ValueInfoProto) -> None:
    src = vi.name
    node = ctx.g.producer.get(src)
    while node is not None and node.op_type in SHAPE_OPS and src not in ctx.tensors:
        ctx.claim(node)
        src = node.input[0]
        node = ctx.g.producer.get(src)
    if src not in ctx.tensors:
        raise FqssError(f"TFLite export (float32): graph output {vi.name!r} comes from {src!r}, which was not "
                        "converted")
    ashape, adyn = app_output_shape(ctx.g.shape(vi.name), ctx.g.dynamic(vi.name), ctx.plain_io)
    name = io_name(ctx, "sources" if not ctx.outputs else f"output{len(ctx.outputs)}", vi.name)
    out = ctx.b.tensor(name, ashape, np.float32, None, adyn)
    from_std_layout(ctx.b, ctx.tensors[src], ctx.g.shape(src), ctx.g.dynamic(src), ashape, adyn, out.name, out=out)
    ctx.facts.setdefault("outputs", []).append({"onnx_name": vi.name, "source": src})
    ctx.outputs.append(out)
