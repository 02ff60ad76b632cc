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
MOVES = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten")  # value-preserving data movement
FQSS_METADATA_KEY = "fqss.io_contract"  # written by ``fqss-edge export``: a model with the int16-PCM I/O contract


def is_fqss_model(model: onnx.ModelProto) -> bool:
    """True for a graph ``fqss-edge export`` wrote (its metadata holds the I/O contract); any other ONNX model
    (onnxruntime ``quantize_static``, Brevitas, a plain float export) has plain tensor I/O."""
    return any(p.key == FQSS_METADATA_KEY for p in model.metadata_props)


def uint8_as_int8(codes: np.ndarray) -> np.ndarray:
    """uint8 codes (values or zero points) on the int8 grid: q - 128 (the same real values with zero point z - 128)."""
    return (np.asarray(codes).astype(np.int16) - 128).astype(np.int8)


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
        self._index()
        self.initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in self.nodes:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.initializers[n.output[0]] = numpy_helper.to_array(a.t)
        self.folded = self._fold_integer_clips() + self._fold_constant_quantize()
        self.same_shape: dict[str, str] = {}  # tensors added here -> the tensor whose shape they have
        self.quantized_early = self._quantize_before_moves()
        self.uint8 = self._uint8_to_int8()
        init_names = set(self.initializers)
        self.inputs = [i for i in g.input if i.name not in init_names]
        self.outputs = list(g.output)
        self.metadata = {p.key: p.value for p in model.metadata_props}
        self.shapes, self.shapes2 = self._infer_shapes()

    def _index(self) -> None:
        """``producer`` (tensor -> the node writing it) and ``consumers`` (tensor -> the nodes reading it) of
        ``self.nodes``."""
        self.producer: dict[str, onnx.NodeProto] = {o: n for n in self.nodes for o in n.output if o}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in self.nodes:
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)

    def _drop(self, nodes: list[onnx.NodeProto]) -> None:
        """Remove ``nodes`` (folded into initializers) from the graph as the converters see it."""
        if nodes:
            self.nodes = [n for n in self.nodes if all(n is not f for f in nodes)]
            self._index()

    def _fold_integer_clips(self) -> list[onnx.NodeProto]:
        """A Clip of constant integer codes (Brevitas' QCDQ export writes each weight as Clip(int8 codes, -127,
        127) -> DequantizeLinear) is the constant it computes: its output becomes an initializer and the node
        leaves the graph, so the weight is a DQ'd constant like any other. Returns the nodes folded."""
        folded = []
        for n in self.nodes:
            if n.op_type != "Clip" or not n.input:
                continue
            ins = [self.initializers.get(i) if i else None for i in n.input]
            if ins[0] is None or ins[0].dtype.kind not in "iu" or any(i and a is None for i, a in zip(n.input, ins)):
                continue
            lo, hi = (ins[k] if len(ins) > k and ins[k] is not None else None for k in (1, 2))
            self.initializers[n.output[0]] = np.clip(ins[0], lo, hi).astype(ins[0].dtype)
            folded.append(n)
        self._drop(folded)
        return folded

    def _fold_constant_quantize(self) -> list[onnx.NodeProto]:
        """A QuantizeLinear of a constant (``quantize_static`` quantizes the scalar of ``3 * x`` with a Q node on a
        Constant) is the constant codes it computes, ONNX's rounding (half to even) and saturation: folded into
        an initializer like any quantized weight. Returns the nodes folded."""
        folded = []
        for n in self.nodes:
            if n.op_type != "QuantizeLinear" or n.input[0] not in self.initializers:
                continue
            x, scale = self.initializers[n.input[0]], self.initializers.get(n.input[1])
            zp = self.initializers.get(n.input[2]) if len(n.input) > 2 and n.input[2] else np.zeros((), np.uint8)
            if scale is None or zp is None or scale.size != 1 or zp.size != 1 or zp.dtype.kind not in "iu":
                continue  # per-axis constants are quantized weights already written as codes: not seen here
            info = np.iinfo(zp.dtype)
            codes = np.rint(x.astype(np.float64) / float(scale.reshape(()))) + int(zp.reshape(()))
            self.initializers[n.output[0]] = np.clip(codes, info.min, info.max).astype(zp.dtype)
            folded.append(n)
        self._drop(folded)
        return folded

    def _quantize_before_moves(self) -> list[onnx.NodeProto]:
        """``op -> Transpose / Reshape / ... -> QuantizeLinear`` with the data movement in float (onnxruntime's
        ``quantize_static`` quantizes a Transpose's output, not its input, when the op in front is not quantized
        on its own: PReLU -> Transpose -> Linear) is ``op -> Q -> DQ -> movement -> Q`` with the same scale and zero
        point: quantizing commutes with moving values, so the codes are the same. Rewritten here (new nodes;
        the model is not changed) so the op's converter finds its QuantizeLinear. Returns the nodes added. Not
        for fqss-edge's own graphs, which quantize every op's output (and whose I/O islands are matched by name)."""
        added: list[onnx.NodeProto] = []
        if is_fqss_model(self.model):
            return added
        for q in list(self.nodes):
            if q.op_type != "QuantizeLinear":
                continue
            chain, cur = [], self.producer.get(q.input[0])
            while cur is not None and cur.op_type in MOVES and len(self.consumers.get(cur.output[0], [])) == 1:
                chain.append(cur)
                cur = self.producer.get(cur.input[0])
            # (an LSTM's converter reads the Squeeze of its direction axis itself)
            if not chain or cur is None or cur.op_type in (*QDQ_OPS, "Constant", "LSTM"):
                continue
            first, src = chain[-1], chain[-1].input[0]
            if len(self.consumers.get(src, [])) != 1 or src in self.initializers:
                continue
            qn = onnx.helper.make_node("QuantizeLinear", [src, *q.input[1:]], [f"{src}/q"], name=f"{cur.name}/q")
            dqn = onnx.helper.make_node("DequantizeLinear", [f"{src}/q", *q.input[1:]], [f"{src}/dq"],
                                        name=f"{cur.name}/dq")
            for a in q.attribute:
                if a.name == "axis":
                    qn.attribute.append(a)
                    dqn.attribute.append(a)
            moved = onnx.NodeProto()
            moved.CopyFrom(first)
            moved.input[0] = f"{src}/dq"
            at = self.nodes.index(cur) + 1
            self.nodes = [moved if n is first else n for n in self.nodes]
            self.nodes[at:at] = [qn, dqn]
            self.same_shape.update({f"{src}/q": src, f"{src}/dq": src})
            added += [qn, dqn]
        if added:
            self._index()
        return added

    def _uint8_to_int8(self) -> set[str]:
        """uint8 Q/DQ (onnxruntime ``quantize_static``'s default activation type) read as int8: a uint8 tensor
        with zero point z is the int8 grid with zero point z - 128, codes q - 128. Done here, once, for the
        constant codes and zero points of every Q/DQ node (and the default zero point, uint8 0, in ``qparams``),
        so every converter sees int8 only. Returns the names of the constants converted."""
        done: set[str] = set()
        for n in self.nodes:
            if n.op_type not in QDQ_OPS:
                continue
            for k in (0, 2):
                name = n.input[k] if k < len(n.input) else ""
                a = self.initializers.get(name)
                if a is not None and a.dtype == np.uint8:
                    self.initializers[name] = uint8_as_int8(a)
                    done.add(name)
        return done

    # -- lengths and shapes ---------------------------------------------------------------------------------
    def _lengths(self) -> tuple[int, int]:
        if self.length is not None:
            return self.length, self.length
        md = self.metadata
        stride = int(md.get("fqss.stride", 64) or 64)
        kernel = int(md.get("fqss.kernel_size", 1) or 1)
        # at least two strides: at one, every axis of T / stride samples is a unit axis (e.g. a U-Net's bottom),
        # which reshapes group differently than at any longer length
        t1 = -(-max(kernel, 1024, 2 * stride) // stride) * stride
        return t1, t1 + 3 * stride

    def _infer_shapes(self) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
        results = []
        for t in self._lengths():
            m = copy.deepcopy(self.model)
            for vi in m.graph.input:
                dims = vi.type.tensor_type.shape.dim
                for k, d in enumerate(dims):
                    if d.HasField("dim_param") or not d.HasField("dim_value"):
                        d.Clear()
                        d.dim_value = 1 if k == 0 and len(dims) > 1 else t  # a symbolic batch: 1
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
            for new, like in self.same_shape.items():
                if like in shapes:
                    shapes[new] = shapes[like]
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
            if node.op_type == "DequantizeLinear" and node.input[0] in self.uint8:
                zp = uint8_as_int8(np.zeros(scale.shape, dtype=np.uint8))
            elif node.op_type == "DequantizeLinear" and node.input[0] in self.initializers:
                zp = np.zeros(scale.shape, dtype=self.initializers[node.input[0]].dtype)
            else:
                zp = uint8_as_int8(np.zeros(scale.shape, dtype=np.uint8))  # ONNX default: uint8 0
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
