"""``ConvertContext``: what an operator converter sees while the walker converts one ONNX graph.

It maps every quantized ONNX tensor (the output of a QuantizeLinear, or an integer initializer) to its TFLite
tensor, resolves an operator's inputs through their DequantizeLinear and its output through the
QuantizeLinear behind it (``qinput`` / ``qoutput``), and builds activations, constants and operators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import onnx

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import ModelBuilder, Quant, TensorInfo
from fqss_edge.export.tflite.emit import quantize
from fqss_edge.export.tflite.layout import to_tflite_array, to_tflite_flags, to_tflite_shape
from fqss_edge.export.tflite.onnx_graph import OnnxGraph, QParams


WIDEN = 128  # an int8 tensor read as int16 (zero point 0) at scale s / 128: its codes (q - z) * 128 fit exactly


@dataclass
class QIn:
    """One quantized input of an operator: ``DQ(name)`` with ``q``; ``const`` when ``name`` is an initializer."""

    name: str
    q: QParams
    shape: tuple[int, ...]
    dynamic: tuple[bool, ...]
    const: np.ndarray | None = None
    dq: onnx.NodeProto | None = None

    @property
    def bits(self) -> int:
        return self.q.bits

    @property
    def scalar_scale(self) -> float:
        return float(self.q.scale.reshape(-1)[0])

    @property
    def scalar_zp(self) -> int:
        return int(self.q.zero_point.reshape(-1)[0])

    def quant(self, axis: int = 0) -> Quant:
        return Quant.make(self.q.scale, self.q.zero_point, axis)


@dataclass
class QOut:
    """The QuantizeLinear behind an operator's output: the quantized tensor ``name`` with ``q``."""

    name: str
    q: QParams
    shape: tuple[int, ...]
    dynamic: tuple[bool, ...]
    node: onnx.NodeProto | None = None
    fused: str | None = None  # an activation between the operator and its QuantizeLinear ("Relu"), if allowed

    @property
    def bits(self) -> int:
        return self.q.bits

    def quant(self) -> Quant:
        return Quant.make(self.q.scale, self.q.zero_point)


def live_nodes(g: OnnxGraph) -> set[int]:
    """ids of the nodes some graph output depends on."""
    live: set[int] = set()
    todo = [o.name for o in g.outputs]
    while todo:
        n = g.producer.get(todo.pop())
        if n is None or id(n) in live:
            continue
        live.add(id(n))
        todo.extend(i for i in n.input if i)
    return live


@dataclass
class GraphContext:
    """What both graph walkers (int8, float32) keep: the graph, the TFLite builder, the ONNX -> TFLite tensor map,
    the nodes converted so far, the I/O tensors and the facts for the metadata."""

    WHAT: ClassVar[str] = "TFLite export"  # prefix of error messages
    g: OnnxGraph
    b: ModelBuilder = field(default_factory=ModelBuilder)
    io: str = "int16"
    # the oldest TF Lite / LiteRT runtime the file must load on (``export --min-runtime``), None: no constraint;
    # a converter with a variant for older runtimes reads it (the PCM byte split)
    min_runtime: tuple[int, int, int] | None = None
    tensors: dict[str, TensorInfo] = field(default_factory=dict)  # ONNX tensor -> TFLite tensor
    claimed: set[int] = field(default_factory=set)  # ids of the ONNX nodes converted (or skipped as dead)
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)  # what islands found (for the metadata)
    # a model that is not ours (``fqss-edge convert``): plain tensors with the model's own names and shapes,
    # any number of inputs and outputs, instead of the PCM waveform [1, T] -> sources [n_src, T] contract
    plain_io: bool = False

    @classmethod
    def for_model(cls, model: onnx.ModelProto, name: str, length: int | None, **kwargs: object) -> "GraphContext":
        """The context of ``model`` (single-input unless ``plain_io``), with the nodes no graph output depends on
        already claimed (e.g. the unused residual branch of the last TCN block)."""
        g = OnnxGraph(model, name, length)
        if len(g.inputs) != 1 and not kwargs.get("plain_io"):
            raise FqssError(f"{name}: {len(g.inputs)} graph inputs; the TFLite exporter converts single-input models")
        ctx = cls(g, **kwargs)
        live = live_nodes(g)  # once: the walk is over the whole graph
        dead = [n for n in g.nodes if id(n) not in live]
        ctx.claim(*dead)
        ctx.facts["dead_nodes"] = len(dead)
        return ctx

    # -- errors and bookkeeping -----------------------------------------------------------------------------
    def fail(self, node: onnx.NodeProto, why: str) -> FqssError:
        return FqssError(f"{self.WHAT}: node {node.name!r} ({node.op_type}): {why}")

    def claim(self, *nodes: onnx.NodeProto) -> None:
        for n in nodes:
            self.claimed.add(id(n))

    def is_claimed(self, node: onnx.NodeProto) -> bool:
        return id(node) in self.claimed

    def define(self, onnx_name: str, t: TensorInfo) -> None:
        if onnx_name in self.tensors:
            raise FqssError(f"{self.WHAT}: tensor {onnx_name!r} defined twice")
        self.tensors[onnx_name] = t


@dataclass
class ConvertContext(GraphContext):
    """The int8 walker's context: quantized inputs through their DequantizeLinear, outputs through the
    QuantizeLinear behind them."""

    # -- inputs and outputs of an operator ------------------------------------------------------------------
    def qinput(self, node: onnx.NodeProto, i: int) -> QIn:
        if i >= len(node.input) or not node.input[i]:
            raise self.fail(node, f"input {i} is missing")
        src = self.g.dq_source(node.input[i])
        if src is None:
            raise self.fail(node, f"input {i} ({node.input[i]!r}) is not produced by DequantizeLinear: every tensor "
                                  "between operators must be quantized (no float operator in the graph)")
        dq, name, q = src
        if q.bits not in (8, 16, 32):
            raise self.fail(node, f"input {i} is {q.dtype} (int8, int16 or int32 expected)")
        const = self.g.const(name)
        shape = self.g.shape(name)
        return QIn(name, q, shape, self.g.dynamic(name) if const is None else (False,) * len(shape), const, dq)

    def optional_qinput(self, node: onnx.NodeProto, i: int) -> QIn | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        return self.qinput(node, i)

    def qoutput(self, node: onnx.NodeProto, i: int = 0, fuse: tuple[str, ...] = ()) -> QOut:
        """The single QuantizeLinear consuming output ``i`` of ``node``; claims it. ``fuse``: activation op types
        the caller can fuse (PyTorch's PT2E quantizers write Conv -> Relu -> Q): such a node between the
        operator and its QuantizeLinear is claimed too and named in ``QOut.fused``."""
        name = node.output[i]
        cons = self.g.consumers.get(name, [])
        if len(cons) == 1 and cons[0].op_type in fuse and name not in {o.name for o in self.g.outputs}:
            act = cons[0]
            out = self.qoutput(act)
            self.claim(act)
            out.fused = act.op_type
            return out
        if len(cons) != 1 or cons[0].op_type != "QuantizeLinear":
            kinds = ", ".join(f"{c.op_type} {c.name!r}" for c in cons) or "nothing (graph output?)"
            raise self.fail(node, f"output {name!r} must feed exactly one QuantizeLinear, it feeds {kinds}")
        qn = cons[0]
        q = self.g.qparams(qn)
        if not q.per_tensor:
            raise self.fail(qn, "per-channel activation quantization is not supported")
        if q.bits == 16 and int(q.zero_point.reshape(-1)[0]) != 0:
            raise self.fail(qn, "int16 activations need zero point 0 (TFLite 16x8)")
        if q.dtype not in (np.int8, np.int16):
            raise self.fail(qn, f"{q.dtype} activations are not supported (int8 or int16)")
        self.claim(qn)
        out = qn.output[0]
        return QOut(out, q, self.g.shape(out), self.g.dynamic(out), qn)

    # -- TFLite tensors -------------------------------------------------------------------------------------
    def activation(self, x: QIn, node: onnx.NodeProto) -> TensorInfo:
        if x.name not in self.tensors:
            if x.const is not None:
                return self.const_input(x)
            raise self.fail(node, f"input {x.name!r} has not been converted yet (graph not topologically sorted?)")
        return self.tensors[x.name]

    def const_input(self, x: QIn, shape: tuple[int, ...] | None = None) -> TensorInfo:
        """A quantized constant operand (per tensor) in the TFLite layout of ``shape`` (default: its own)."""
        a = x.const
        if shape is not None:
            a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape) if a.ndim < len(shape) else a
        return self.b.const(x.name, to_tflite_array(np.asarray(a)), x.quant())

    def moved_output(self, x: QIn, out: QOut, src: TensorInfo) -> TensorInfo:
        """The tensor a data-movement operator (slice, pad, ...) of ``src`` writes for ``out``: ``out``'s own when
        ``x`` and ``out`` are quantized alike, else one in ``src``'s quantization that ``requantized`` turns into
        ``out`` (a Q after a Slice may carry the range of a Clip that onnxruntime's quantize_static folded)."""
        if x.q.same(out.q):
            return self.new_output(out)
        return self.b.tensor(f"{out.name}/moved", to_tflite_shape(out.shape), src.dtype, src.quant,
                             to_tflite_flags(out.dynamic))

    def requantized(self, x: QIn, out: QOut, y: TensorInfo) -> None:
        """Register ``y`` (in ``x``'s quantization) as ``out``: itself, or a QUANTIZE of it to ``out``'s."""
        if x.q.same(out.q):
            if out.name not in self.tensors:
                self.define(out.name, y)
            return
        self.define(out.name, quantize(self.b, y, out.q.dtype, out.quant(), out.name))

    # -- 16x8 islands of a mixed-precision plan -------------------------------------------------------------
    def widened(self, x: QIn, node: onnx.NodeProto) -> tuple[TensorInfo, float]:
        """``x`` as an int16 tensor with zero point 0, and its scale: itself when it is int16, else a QUANTIZE
        to scale ``s / WIDEN`` (exact: the codes ``(q - z) * 128``, |q - z| <= 255), written once per tensor."""
        t = self.activation(x, node)
        if x.bits == 16:
            return t, x.scalar_scale
        scale = float(np.float32(x.scalar_scale) / np.float32(WIDEN))  # a power-of-two ratio: exact in float32
        name = f"{x.name}/int16"
        if name not in self.tensors:
            self.define(name, quantize(self.b, t, np.int16, Quant.make(np.float32(scale), 0), name))
        return self.tensors[name], scale

    def wide_output(self, out: QOut) -> tuple[TensorInfo, Callable[[], None]]:
        """The int16 tensor an operator computed in 16 bits writes for ``out``, and what to call after the
        operator: ``out``'s own when it is int16; for an int8 ``out`` an int16 tensor at scale ``s_out / WIDEN``
        (zero point 0), then a QUANTIZE to ``out`` (two roundings: can be 1 step off a single rounding)."""
        if out.bits == 16:
            return self.new_output(out), lambda: None
        q = out.quant()
        wide = self.b.tensor(f"{out.name}/int16", to_tflite_shape(out.shape), np.int16,
                             Quant.make(np.float32(float(q.scale[0])) / np.float32(WIDEN), 0),
                             to_tflite_flags(out.dynamic))
        return wide, lambda: self.define(out.name, quantize(self.b, wide, np.int8, q, out.name))

    def new_output(self, out: QOut, dtype: object = None) -> TensorInfo:
        """The TFLite tensor of a quantized ONNX output (std layout), registered under its ONNX name."""
        if dtype is None:
            dtype = out.q.dtype
        t = self.b.tensor(out.name, to_tflite_shape(out.shape), dtype, out.quant(), to_tflite_flags(out.dynamic))
        self.define(out.name, t)
        return t
