"""``GraphBuilder``: the small vocabulary the emitters write ONNX with (Q, DQ, weights, biases, plain nodes).

Every quantized tensor is a ``TensorRef`` whose name is the *quantizer module's* path in the PyTorch model
(``masker.blocks.3.dw_conv.out_quant``): parity ``--per-layer`` and error messages name layers with it.
In float mode (``quantized=False``) the same calls write the plain float graph: ``quantize`` is the identity,
``dequantize`` returns the float tensor, and weights are float initializers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INT_TYPES = {8: (np.int8, TensorProto.INT8), 16: (np.int16, TensorProto.INT16), 32: (np.int32, TensorProto.INT32)}


@dataclass(frozen=True)
class QParams:
    """Per-tensor quantization parameters exactly as the checkpoint holds them (scale is a float32 value)."""

    scale: float
    zero_point: int
    bits: int

    @classmethod
    def of(cls, quantizer: object) -> "QParams":
        scale, zp = quantizer.export_qparams()  # type: ignore[attr-defined]
        return cls(float(np.float32(scale)), int(zp), int(quantizer.bits))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TensorRef:
    """A tensor of the graph: quantized (``qparams`` set, produced by QuantizeLinear) or float."""

    name: str
    qparams: QParams | None = None


@dataclass
class GraphBuilder:
    quantized: bool
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    int16_tensors: list[str] = field(default_factory=list)
    int4_weights: list[str] = field(default_factory=list)  # int8 initializers holding int4 codes (a plan's)
    islands: dict[str, list[str]] = field(default_factory=dict)  # island name -> node names
    tensor_islands: dict[str, str] = field(default_factory=dict)  # tensor written inside an island -> island
    module_names: dict[int, str] = field(default_factory=dict)  # id(module) -> path in the model
    lstm_cells: dict[str, int] = field(default_factory=dict)  # LSTM node name -> log2 of its int16 cell scale
    _names: set[str] = field(default_factory=set)

    def module_name(self, module: object) -> str:
        """The path of a (shared) module in the model being exported."""
        try:
            return self.module_names[id(module)]
        except KeyError:
            raise ValueError(f"{type(module).__name__} is not part of the exported model") from None

    # -- names and plain nodes ------------------------------------------------------------------------------
    def unique(self, name: str) -> str:
        base, k = name, 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer; a second call with the same name must give the same value (shared weights)."""
        value = np.asarray(value)
        old = self.initializers.get(name)
        if old is not None:
            if not np.array_equal(numpy_helper.to_array(old), value) or numpy_helper.to_array(old).dtype != value.dtype:
                raise ValueError(f"initializer {name} defined twice with different values")
            return name
        self.initializers[name] = numpy_helper.from_array(value, name)
        return name

    def node(self, op: str, inputs: list[str], name: str, n_out: int = 1, output: str | None = None,
             island: str | None = None, **attrs: object) -> str:
        """Append one node named ``name`` (made unique); returns its (first) output tensor name."""
        node_name = self.unique(f"{island}/{name}" if island else name)
        outs = [output] if output is not None else [f"{node_name}:{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=node_name, **attrs))
        if island:
            self.islands.setdefault(island, []).append(node_name)
            self.tensor_islands.update(dict.fromkeys(outs, island))
        return outs[0]

    def scalar(self, name: str, value: float) -> str:
        return self.const(name, np.array(value, dtype=np.float32))

    # -- quantization ---------------------------------------------------------------------------------------
    def qparam_inputs(self, name: str, qp: QParams) -> tuple[str, str]:
        dtype = INT_TYPES[qp.bits][0]
        return (self.const(f"{name}.scale", np.array(qp.scale, dtype=np.float32)),
                self.const(f"{name}.zero_point", np.array(qp.zero_point, dtype=dtype)))

    def quantize_with(self, x: str, qp: QParams | None, name: str, island: str | None = None) -> TensorRef:
        """``QuantizeLinear(x)`` whose output tensor is called ``name``; identity in float mode."""
        if not self.quantized or qp is None:
            return TensorRef(x)
        if qp.bits not in (8, 16):
            raise ValueError(f"{name}: {qp.bits}-bit activations are not supported")
        out = self.unique(name)
        s, z = self.qparam_inputs(out, qp)
        self.node("QuantizeLinear", [x, s, z], f"{out}/QuantizeLinear", output=out, island=island)
        if qp.bits == 16:
            self.int16_tensors.append(out)
        return TensorRef(out, qp)

    def quantize(self, x: str, quantizer: object, name: str) -> TensorRef:
        """Quantize ``x`` with a quantizer module of the model (its own scale and zero point)."""
        if not self.quantized or not getattr(quantizer, "enabled", True):
            return TensorRef(x)
        return self.quantize_with(x, QParams.of(quantizer), name)

    def dequantize(self, ref: TensorRef, consumer: str, island: str | None = None) -> str:
        """``DequantizeLinear(ref)`` for one consumer (one DQ per consumer keeps onnxruntime's QDQ fusion simple)."""
        if ref.qparams is None:
            return ref.name
        s, z = self.qparam_inputs(ref.name, ref.qparams)
        return self.node("DequantizeLinear", [ref.name, s, z], f"{consumer}/DequantizeLinear", island=island)

    def requantize(self, ref: TensorRef, quantizer: object, name: str) -> TensorRef:
        """``DQ -> Q`` with new parameters (e.g. int8 -> int16); identity in float mode."""
        if not self.quantized:
            return ref
        return self.quantize(self.dequantize(ref, name), quantizer, name)

    def same_params(self, op: str, ref: TensorRef, name: str, extra_inputs: list[str], **attrs: object) -> TensorRef:
        """A data-movement op (Reshape, Unsqueeze) on a quantized tensor: ``DQ -> op -> Q`` with identical params."""
        y = self.node(op, [self.dequantize(ref, name), *extra_inputs], f"{name}/{op}", **attrs)
        return self.quantize_with(y, ref.qparams, name)

    # -- constants through DequantizeLinear -----------------------------------------------------------------
    def quantized_const(self, name: str, codes: np.ndarray, scale: np.ndarray, bits: int, consumer: str,
                        axis: int | None = None) -> str:
        """An integer initializer ``name`` (codes) and a DQ with float32 ``scale`` and zero points 0."""
        dtype = INT_TYPES[bits][0]
        q = self.const(name, codes.astype(dtype))
        scale = np.asarray(scale, dtype=np.float32)
        s = self.const(f"{name}.scale", scale)
        z = self.const(f"{name}.zero_point", np.zeros(scale.shape, dtype=dtype))
        attrs = {"axis": axis} if axis is not None and scale.ndim == 1 else {}
        return self.node("DequantizeLinear", [q, s, z], f"{consumer}/DequantizeLinear", **attrs)

    def float_const(self, name: str, value: np.ndarray) -> str:
        return self.const(name, np.asarray(value, dtype=np.float32))


def weight_storage_bits(bits: int) -> int:
    """Integer width of the initializer holding ``bits``-bit weight codes (int8 up to 8 bits)."""
    return 8 if bits <= 8 else 16
