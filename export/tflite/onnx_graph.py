"""Read-only view of a QDQ ONNX graph: producers, consumers, constants, Q/DQ parameters, shapes.

Shapes come from ONNX shape inference run at two concrete input lengths: a dimension that differs between
the two follows the input length (``dynamic``), the others are fixed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from fqss_edge.errors import FqssError

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass(frozen=True)
class QParams:
    """Quantization of a tensor as a Q/DQ node states it (scale float32 exactly as stored)."""

    scale: np.ndarray  # float32, 0-d (per tensor) or 1-d (per channel)
    zero_point: np.ndarray  # integer array of the quantized type
    axis: int | None  # per-channel axis, None per tensor

    @property
    def dtype(self) -> np.dtype:
        return self.zero_point.dtype

    @property
    def bits(self) -> int:
        return self.zero_point.dtype.itemsize * 8

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1

    def same(self, other: "QParams") -> bool:
        return (self.scale.tobytes() == other.scale.tobytes() and self.zero_point.dtype == other.zero_point.dtype
                and np.array_equal(self.zero_point, other.zero_point))

    def describe(self) -> str:
        if self.per_tensor:
            return f"int{self.bits} scale {float(self.scale.reshape(-1)[0])!r} zp {int(self.zero_point.reshape(-1)[0])}"
        return f"int{self.bits} per-channel (axis {self.axis}, {self.scale.size} scales)"


def load_onnx(path: str | Path) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise FqssError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf DecodeError, missing external data, ...
        raise FqssError(f"{path}: not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
    if not model.graph.node:
        raise FqssError(f"{path}: ONNX model has no nodes (corrupt or truncated file?)")
    return model


class OnnxGraph:
    def __init__(self, model: onnx.ModelProto, name: str = "model.onnx", length: int | None = None):
        self.model = model
        self.name = name
        self.length = length
        g = model.graph
        self.nodes: list[onnx.NodeProto] = list(g.node)
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in self.nodes:
            for o in n.output:
                if o:
                    self.producer[o] = n
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)
        self.initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in self.nodes:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.initializers[n.output[0]] = numpy_helper.to_array(a.t)
        init_names = set(self.initializers)
        self.inputs = [i for i in g.input if i.name not in init_names]
        self.outputs = list(g.output)
        self.metadata = {p.key: p.value for p in model.metadata_props}
        self.shapes, self.shapes2 = self._infer_shapes()

    # -- lengths and shapes ---------------------------------------------------------------------------------
    def _lengths(self) -> tuple[int, int]:
        if self.length is not None:
            return self.length, self.length
        md = self.metadata
        stride = int(md.get("fqss.stride", 64) or 64)
        kernel = int(md.get("fqss.kernel_size", 1) or 1)
        t1 = -(-max(kernel, 1024) // stride) * stride
        return t1, t1 + 3 * stride

    def _infer_shapes(self) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
        results = []
        for t in self._lengths():
            m = copy.deepcopy(self.model)
            for vi in m.graph.input:
                for d in vi.type.tensor_type.shape.dim:
                    if d.HasField("dim_param") or not d.HasField("dim_value"):
                        d.Clear()
                        d.dim_value = t
            del m.graph.value_info[:]
            for o in m.graph.output:
                o.type.tensor_type.ClearField("shape")
            try:
                m = onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
            except Exception as e:
                raise FqssError(f"{self.name}: ONNX shape inference failed ({str(e).splitlines()[0]})") from None
            shapes: dict[str, tuple[int, ...]] = {}
            for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
                tt = vi.type.tensor_type
                if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
                    shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
            for k, v in self.initializers.items():
                shapes[k] = tuple(v.shape)
            results.append(shapes)
        return results[0], results[1]

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.shapes:
            raise FqssError(f"{self.name}: shape of tensor {name!r} is unknown (ONNX shape inference)")
        return self.shapes[name]

    def dynamic(self, name: str) -> tuple[bool, ...]:
        s1, s2 = self.shape(name), self.shapes2.get(name, self.shape(name))
        return tuple(a != b for a, b in zip(s1, s2))

    # -- nodes ----------------------------------------------------------------------------------------------
    def const(self, name: str) -> np.ndarray | None:
        return self.initializers.get(name)

    def attr(self, node: onnx.NodeProto, name: str, default: object = None) -> object:
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def qparams(self, node: onnx.NodeProto) -> QParams:
        """Scale / zero point of a QuantizeLinear or DequantizeLinear node (constants)."""
        scale = self.const(node.input[1]) if len(node.input) > 1 else None
        if scale is None:
            raise FqssError(f"{self.name}: node {node.name!r} ({node.op_type}) has a non-constant scale")
        zp = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if zp is None:
            if node.op_type == "DequantizeLinear" and node.input[0] in self.initializers:
                zp = np.zeros(scale.shape, dtype=self.initializers[node.input[0]].dtype)
            else:
                zp = np.zeros(scale.shape, dtype=np.uint8)  # ONNX default: uint8
        if scale.dtype != np.float32:
            raise FqssError(f"{self.name}: node {node.name!r} has a {scale.dtype} scale (float32 expected)")
        axis = None
        if scale.size > 1:
            axis = int(self.attr(node, "axis", 1))
        if self.attr(node, "block_size", 0):
            raise FqssError(f"{self.name}: node {node.name!r} uses blocked quantization (not supported)")
        return QParams(scale, zp, axis)

    def dq_source(self, name: str) -> tuple[onnx.NodeProto, str, QParams] | None:
        """If ``name`` is the output of a DequantizeLinear: (that node, its quantized input, its params)."""
        n = self.producer.get(name)
        if n is None or n.op_type != "DequantizeLinear":
            return None
        return n, n.input[0], self.qparams(n)

    def metadata_json(self, key: str, default: object = None) -> object:
        v = self.metadata.get(key)
        if v is None:
            return default
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
