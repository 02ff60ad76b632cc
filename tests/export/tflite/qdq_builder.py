"""Builds small QDQ ONNX graphs with onnx.helper, the way export/onnx writes them (opset 21)."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ONNX_INT = {8: (np.int8, TensorProto.INT8), 16: (np.int16, TensorProto.INT16), 32: (np.int32, TensorProto.INT32),
            "u8": (np.uint8, TensorProto.UINT8)}  # "u8": onnxruntime quantize_static's default activation type


class QDQ:
    """``QDQ(channels=4, length=32)`` then ``x = b.input(scale, zp)``, ``y = b.op("Relu", [b.dq(x)], q=(s, z))``,
    ``b.output(y)``, ``b.model()``."""

    def __init__(self, channels: int = 1, length: int | str = 32, batch: int = 1, opset: int = 21):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.opset = opset
        self.k = 0
        self.in_shape = [batch, channels, length]
        self.metadata: dict[str, str] = {}
        self.qparams: dict[str, tuple[float, int, int]] = {}

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, value: np.ndarray, base: str = "c") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def node(self, op: str, inputs: list[str], name: str | None = None, n_out: int = 1, **attrs) -> str:
        name = name or self.name(op)
        outs = [f"{name}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0]

    def q(self, x: str, scale: float, zp: int = 0, bits: int = 8, name: str | None = None) -> str:
        dt = ONNX_INT[bits][0]
        s = self.const(np.array(scale, dtype=np.float32), "scale")
        z = self.const(np.array(zp, dtype=dt), "zp")
        out = self.node("QuantizeLinear", [x, s, z], name=name)
        self.qparams[out] = (float(np.float32(scale)), zp, bits)
        return out

    def dq(self, xq: str, name: str | None = None) -> str:
        scale, zp, bits = self.qparams[xq]
        s = self.const(np.array(scale, dtype=np.float32), "scale")
        z = self.const(np.array(zp, dtype=ONNX_INT[bits][0]), "zp")
        return self.node("DequantizeLinear", [xq, s, z], name=name)

    def input(self, scale: float, zp: int = 0, bits: int = 8) -> str:
        return self.q("mixture", scale, zp, bits)

    def qconst(self, codes: np.ndarray, scale, bits: int = 8, axis: int | None = None) -> str:
        """DQ of an integer initializer (weights: per-channel ``scale`` array with ``axis``)."""
        dt = ONNX_INT[bits][0]
        c = self.const(np.asarray(codes).astype(dt), "w")
        scale = np.asarray(scale, dtype=np.float32)
        s = self.const(scale, "scale")
        z = self.const(np.zeros(scale.shape, dtype=dt), "zp")
        attrs = {"axis": axis} if axis is not None else {}
        return self.node("DequantizeLinear", [c, s, z], **attrs)

    def op(self, op: str, inputs: list[str], q: tuple, **attrs) -> str:
        """``op(inputs)`` then QuantizeLinear with q = (scale, zp[, bits])."""
        y = self.node(op, inputs, **attrs)
        return self.q(y, *q)

    def output(self, yq: str, name: str = "sources") -> None:
        y = self.dq(yq)
        self.nodes.append(helper.make_node("Identity", [y], [name], name=self.name("out")))
        self.outputs.append(helper.make_empty_tensor_value_info(name))
        self.outputs[-1].type.tensor_type.elem_type = TensorProto.FLOAT

    def float_output(self, y: str, name: str = "sources") -> None:
        """A plain float graph's output (no DequantizeLinear): ``Identity(y) -> name``."""
        self.nodes.append(helper.make_node("Identity", [y], [name], name=self.name("out")))
        self.outputs.append(helper.make_empty_tensor_value_info(name))
        self.outputs[-1].type.tensor_type.elem_type = TensorProto.FLOAT

    def model(self) -> onnx.ModelProto:
        inp = helper.make_tensor_value_info("mixture", TensorProto.FLOAT, self.in_shape)
        g = helper.make_graph(self.nodes, "qdq", [inp], self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 10
        for k, v in self.metadata.items():
            m.metadata_props.add(key=k, value=v)
        return m


def strip_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """The float graph a QDQ graph quantizes (what ``fqss-edge export --float`` writes for the same layers): each
    ``DQ(Q(x))`` is ``x``, each DQ of an integer initializer a float initializer of its values."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    alias: dict[str, str] = {}
    floats, nodes = [], []
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            codes, scale, zp = (inits[i].astype(np.float32) for i in n.input[:3])
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1) % max(codes.ndim, 1)
            shape = [-1 if d == axis else 1 for d in range(codes.ndim)] if scale.ndim else []
            floats.append(numpy_helper.from_array(((codes - zp.reshape(shape)) * scale.reshape(shape)), n.output[0]))
        elif n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
        else:
            m = onnx.NodeProto()
            m.CopyFrom(n)
            m.input[:] = [alias.get(i, i) for i in n.input]
            nodes.append(m)
    used = {i for n in nodes for i in n.input}
    kept = [i for i in list(model.graph.initializer) + floats if i.name in used]
    g = helper.make_graph(nodes, "float", list(model.graph.input), list(model.graph.output), kept)
    m = helper.make_model(g, opset_imports=list(model.opset_import))
    m.ir_version = model.ir_version
    m.metadata_props.extend(model.metadata_props)
    return m


def fqss_identity_model(length: int = 65536, sources: int = 1, pad: tuple[int, int] = (0, 0)) -> onnx.ModelProto:
    """input_splitter island -> bytes -> two 1x1 convs picking the high / low byte (y0 = hi, y1 = lo, scale 1/128)
    for each of the ``sources`` outputs -> output_reconstruction island: each source = (256 hi + lo) / 32768
    = (p - 128) / 32768. ``pad``: zero samples added in the island before the split (a model's moved input
    padding); the convs then have ``sum(pad) + 1`` taps, y0 the first (left padding included) and y1 the last
    (right padding included), so the output keeps the input's length."""
    b = QDQ(channels=1, length=length)
    isl = "input_splitter"

    def node(op, ins, name, **kw):
        return b.node(op, ins, name=f"{isl}/{name}", **kw)

    def c(v):
        return b.const(np.array(v, dtype=np.float32))

    src = "mixture"
    if any(pad):
        src = node("Pad", [src, b.const(np.array([0, 0, pad[0], 0, 0, pad[1]], dtype=np.int64))], "Pad")
    x128 = node("Mul", [src, c(128.0)], "hi/Mul")
    hi = node("Clip", [node("Floor", [x128], "hi/Floor"), c(-128.0), c(127.0)], "hi/Clip")
    r = node("Sub", [x128, hi], "lo/Sub")
    lo = node("Floor", [node("Mul", [r, c(256.0)], "lo/Mul")], "lo/Floor")
    lo = node("Clip", [node("Sub", [lo, c(128.0)], "lo/Sub_128"), c(-128.0), c(127.0)], "lo/Clip")
    cat = node("Mul", [node("Concat", [hi, lo], "Concat", axis=1), c(1 / 128)], "Mul_byte_scale")
    xq = b.q(cat, 1 / 128, 0, name=f"{isl}/input/QuantizeLinear")
    ys = []
    taps = sum(pad) + 1
    for k in range(2):
        w = np.zeros((sources, 2, taps), dtype=np.int64)
        w[:, k, 0 if k == 0 else taps - 1] = 1
        ys.append(b.op("Conv", [b.dq(xq), b.qconst(w, np.ones(sources, np.float32), axis=0)], (1 / 128, 0),
                       kernel_shape=[taps]))
    o = "output_reconstruction"
    low = b.node("Mul", [b.dq(ys[1], name=f"{o}/y1/DequantizeLinear"), b.const(np.array(1 / 256, np.float32))],
                 name=f"{o}/y1/Mul")
    s = b.node("Add", [b.dq(ys[0], name=f"{o}/y0/DequantizeLinear"), low], name=f"{o}/Add")
    b.nodes.append(helper.make_node("Reshape", [s, b.const(np.array([1, sources, -1], np.int64))], ["sources"],
                                    name=f"{o}/Reshape"))
    b.outputs.append(helper.make_tensor_value_info("sources", TensorProto.FLOAT, [1, sources, length]))
    names = ["speech"] + [f"s{k + 1}" for k in range(1, sources)]
    b.metadata.update({"fqss.sample_rate": "8000", "fqss.n_src": str(sources),
                       "fqss.source_names": json.dumps(names), "fqss.stride": "1", "fqss.kernel_size": "1"})
    return b.model()


def vanilla_model(length=64, out_zero_point: int = -1) -> tuple[onnx.ModelProto, float]:
    """A conv whose int8 output (scale 0.003) is the graph output: int16 PCM out is a requantization (zero point
    0: CAST + int16 QUANTIZE; another: one int8 -> int16 QUANTIZE)."""
    b = QDQ(channels=1, length=length)
    x = b.input(0.007, 2)
    w = b.qconst(np.array([[[50, -80, 127]], [[-127, 3, 60]]]), np.array([0.01, 0.02], np.float32), axis=0)
    y = b.op("Conv", [b.dq(x), w], (0.003, out_zero_point), kernel_shape=[3], pads=[1, 1])
    b.nodes.append(helper.make_node("Reshape", [b.dq(y), b.const(np.array([1, 2, -1], np.int64))], ["sources"],
                                    name="out/Reshape"))
    b.outputs.append(helper.make_tensor_value_info("sources", TensorProto.FLOAT, [1, 2, length]))
    return b.model(), 0.003
