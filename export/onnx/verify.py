"""Verifier of the QDQ contract: every tensor between operations is quantized, with the checkpoint's parameters.

* *Unquantized tensors*: outside the declared float islands (``fqss.islands``), every input of a compute op
  must come from ``DequantizeLinear`` (or be an integer shape/axes constant), and every compute op's output
  must go to ``QuantizeLinear``. The only float edge allowed between two compute ops is the inside of a
  composite op (``Sqrt -> Reciprocal`` = RSQRT), as the layers' emitters declare them (``register(...,
  composites=...)``). int16 tensors must be declared (``fqss.int16_tensors``).
* *Parameters*: each Q's scale/zero point must be bit for bit its quantizer's in the checkpoint (by name), each
  DQ's those of the Q it reads, each constant's codes/scales the checkpoint's, each bias scale ``s_in * s_w``
  (the bias of the ops declared ``register(..., bias_ops=...)``); every calibrated quantizer of the checkpoint
  must be written.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

import fqss_edge.export.onnx.emitters  # noqa: F401  (the layers' declarations: composites, bias ops)
from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.expected import Expected, FromInput
from fqss_edge.export.onnx.graph import QParams
from fqss_edge.export.onnx.registry import declared_bias_ops, declared_composites

Q, DQ = "QuantizeLinear", "DequantizeLinear"
DATA_MOVEMENT = {"Reshape", "Unsqueeze", "Squeeze", "Transpose", "Flatten", "Pad", "Slice", "Concat"}
MAX_LISTED = 40


@dataclass(frozen=True)
class Issue:
    tensor: str
    problem: str
    kind: str = "unquantized"  # or "qparams"

    def __str__(self) -> str:
        return f"{self.tensor}: {self.problem}"


class GraphIndex:
    """Producers, consumers, constants and the declared islands of a model; the composites and bias ops the
    layers' emitters declare."""

    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.nodes = list(g.node)
        self.inits = {i.name: i for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output if o}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for n in g.node:
            for i in n.input:
                if i:
                    self.consumers[i].append(n)
        self.outputs = {o.name for o in g.output}
        meta = {p.key: p.value for p in model.metadata_props}
        islands = json.loads(meta.get("fqss.islands", "{}") or "{}")
        self.island_nodes = {name for isl in islands.values() for name in isl.get("nodes", [])}
        self.int16 = set(json.loads(meta.get("fqss.int16_tensors", "[]") or "[]"))
        self.int4 = list(json.loads(meta.get("fqss.int4_weights", "[]") or "[]"))
        self.composites = declared_composites()  # (producer, consumer) ops whose inner tensor stays float
        self.bias_ops = declared_bias_ops()
        self._arrays: dict[str, np.ndarray] = {}

    def const(self, name: str) -> np.ndarray | None:
        if name not in self._arrays:
            if name in self.inits:
                self._arrays[name] = numpy_helper.to_array(self.inits[name])
            else:
                p = self.producer.get(name)
                if p is None or p.op_type != "Constant":
                    return None
                self._arrays[name] = numpy_helper.to_array(p.attribute[0].t)
        return self._arrays[name]

    def is_const(self, name: str) -> bool:
        return name in self.inits or (name in self.producer and self.producer[name].op_type == "Constant")

    def qparams(self, node: onnx.NodeProto) -> tuple[np.ndarray | None, np.ndarray | None]:
        scale = self.const(node.input[1])
        zp = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        return scale, zp


def _same_bits(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return False
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))
    return np.array_equal(a, b)


def _fmt(a: np.ndarray | None) -> str:
    if a is None:
        return "not a constant"
    a = np.asarray(a)
    return repr(a.item()) if a.size == 1 else f"{a.dtype}{list(a.shape)}"


# -- unquantized tensors ---------------------------------------------------------------------------------------
def unquantized_tensors(model: onnx.ModelProto, index: GraphIndex | None = None) -> list[Issue]:
    gi = index or GraphIndex(model)
    issues = []
    for n in gi.nodes:
        if n.op_type in (Q, DQ, "Constant"):
            if n.op_type == Q and n.name not in gi.island_nodes:
                zp = gi.qparams(n)[1]
                if zp is not None and zp.dtype == np.int16 and n.output[0] not in gi.int16:
                    issues.append(Issue(n.output[0], "int16 tensor outside the declared int16 islands"))
            continue
        if n.name in gi.island_nodes:
            continue
        for t in n.input:
            if not t:
                continue
            if gi.is_const(t):
                arr = gi.const(t)
                if arr is not None and arr.dtype.kind == "f":
                    issues.append(Issue(t, f"float constant feeds {n.name} ({n.op_type}) without DequantizeLinear"))
                continue
            p = gi.producer.get(t)
            if p is None:
                issues.append(Issue(t, f"graph input feeds {n.name} ({n.op_type}) without QuantizeLinear"))
            elif p.op_type == DQ or ((p.op_type, n.op_type) in gi.composites and p.name not in gi.island_nodes):
                continue
            else:
                issues.append(Issue(t, f"{p.name} ({p.op_type}) -> {n.name} ({n.op_type}) is not quantized"))
        for t in n.output:
            if t in gi.outputs:
                issues.append(Issue(t, f"graph output of {n.name} ({n.op_type}) is not quantized"))
    return issues


# -- quantization parameters -----------------------------------------------------------------------------------
def _expected_for_q(gi: GraphIndex, q: onnx.NodeProto, expected: Expected) -> tuple[np.ndarray, np.ndarray] | None:
    qp = expected.activations.get(q.output[0])
    if isinstance(qp, FromInput):
        qp = _from_input(gi, q, qp)
    if qp is not None:
        return np.array(qp.scale, np.float32), np.array(qp.zero_point, np.int8 if qp.bits == 8 else np.int16)
    src = gi.producer.get(q.input[0])  # DQ -> Reshape/Unsqueeze -> Q keeps the parameters it had
    if src is not None and src.op_type in DATA_MOVEMENT:
        dqs = [gi.producer.get(i) for i in (src.input if src.op_type == "Concat" else src.input[:1])]
        params = [gi.qparams(dq) for dq in dqs if dq is not None and dq.op_type == DQ]
        if len(params) == len(dqs) and all(_same_bits(s, params[0][0]) and _same_bits(z, params[0][1])
                                           for s, z in params):
            s, z = params[0]
            if s is not None and z is not None:
                return s, z
    return None


def _from_input(gi: GraphIndex, q: onnx.NodeProto, rule: FromInput) -> QParams | None:
    """``rule`` applied to the parameters of the DQ the Q reads (``rule.through`` None) or that the ``through`` op
    producing the Q's input reads first; None: the graph is not so."""
    op = gi.producer.get(q.input[0])
    if op is not None and rule.through is not None:
        op = gi.producer.get(op.input[0]) if op.op_type == rule.through and op.input else None
    if op is None or op.op_type != DQ:
        return None
    s, z = gi.qparams(op)
    if s is None or z is None or np.asarray(s).size != 1:
        return None
    return rule.rule(float(np.asarray(s).reshape(())), int(np.asarray(z).reshape(())))


def _check_q(gi: GraphIndex, q: onnx.NodeProto, expected: Expected) -> list[Issue]:
    name = q.output[0]
    rule = expected.activations.get(name)
    if isinstance(rule, FromInput) and _from_input(gi, q, rule) is None:
        return []  # its input is not quantized: reported as an unquantized tensor
    s, z = gi.qparams(q)
    want = _expected_for_q(gi, q, expected)
    if want is None:
        return [Issue(name, "no quantizer of the checkpoint has this name", "qparams")]
    if not (_same_bits(s, want[0]) and _same_bits(z, want[1])):
        return [Issue(name, f"scale/zero point {_fmt(s)}/{_fmt(z)} != checkpoint {_fmt(want[0])}/{_fmt(want[1])}",
                      "qparams")]
    return []


BIAS_INPUT = {"LSTM": 3}  # the bias input of a declared bias op (default 2: Conv, ConvTranspose)


def _bias_scale(gi: GraphIndex, dq: onnx.NodeProto) -> np.ndarray | None:
    """For a DQ feeding a Conv's bias: float32(s_in * s_w) from the conv's own input and weight DQs (an LSTM's
    bias holds the input and the recurrent half: the same scales twice)."""
    for conv in gi.consumers.get(dq.output[0], []):
        k = BIAS_INPUT.get(conv.op_type, 2)
        if conv.op_type in gi.bias_ops and len(conv.input) > k and conv.input[k] == dq.output[0]:
            x_dq, w_dq = gi.producer.get(conv.input[0]), gi.producer.get(conv.input[1])
            if x_dq is None or w_dq is None or x_dq.op_type != DQ or w_dq.op_type != DQ:
                return None
            s_in, s_w = gi.qparams(x_dq)[0], gi.qparams(w_dq)[0]
            if s_in is None or s_w is None:
                return None
            scale = (np.float32(s_in) * s_w.astype(np.float32)).astype(np.float32)
            return np.tile(scale, 2) if conv.op_type == "LSTM" else scale
    return None


def _check_dq(gi: GraphIndex, dq: onnx.NodeProto, expected: Expected | None) -> list[Issue]:
    x = dq.input[0]
    s, z = gi.qparams(dq)
    p = gi.producer.get(x)
    if p is not None and p.op_type == Q:
        qs, qz = gi.qparams(p)
        if not (_same_bits(s, qs) and _same_bits(z, qz)):
            return [Issue(x, f"{dq.name} reads it with {_fmt(s)}/{_fmt(z)}, written with {_fmt(qs)}/{_fmt(qz)}",
                          "qparams")]
        return []
    if not gi.is_const(x):
        return []
    zero = z is None or not np.any(z)
    bias = _bias_scale(gi, dq)
    if bias is not None:
        ok = _same_bits(s, bias) and zero and gi.const(x).dtype == np.int32
        return [] if ok else [Issue(x, "bias must be int32 with scale s_in * s_w and zero point 0", "qparams")]
    if expected is None:
        return []
    want = expected.constants.get(x)
    if want is None:
        return [Issue(x, "quantized constant that is not in the checkpoint", "qparams")]
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    problems = []
    if not np.array_equal(gi.const(x), want.codes):
        problems.append("integer codes differ")
    if not _same_bits(s, np.asarray(want.scale, np.float32)):
        problems.append(f"scales differ ({_fmt(s)} vs {_fmt(want.scale)})")
    if not zero:
        problems.append("zero points are not 0")
    if want.axis is not None and axis != want.axis:
        problems.append(f"axis {axis} != {want.axis}")
    return [Issue(x, ", ".join(problems) + " (vs checkpoint)", "qparams")] if problems else []


def qparam_mismatches(model: onnx.ModelProto, expected: Expected | None = None,
                      index: GraphIndex | None = None) -> list[Issue]:
    """Structural checks always (DQ == its Q, bias = s_in * s_w); checkpoint checks when ``expected`` is given."""
    gi = index or GraphIndex(model)
    issues = []
    for n in gi.nodes:
        if n.op_type == Q and expected is not None:
            issues += _check_q(gi, n, expected)
        elif n.op_type == DQ:
            issues += _check_dq(gi, n, expected)
    if expected is not None:
        written = {n.output[0] for n in gi.nodes if n.op_type == Q}
        issues += [Issue(name, "quantizer of the checkpoint has no QuantizeLinear in the graph", "qparams")
                   for name, qp in expected.activations.items()
                   if name not in written and not isinstance(qp, FromInput)]
    return issues


def int4_weight_issues(gi: GraphIndex) -> list[Issue]:
    """Every declared int4 weight (``fqss.int4_weights``) is an int8 initializer with codes in [-8, 7]."""
    issues = []
    for name in gi.int4:
        a = gi.const(name) if gi.is_const(name) else None
        if a is None or a.dtype != np.int8:
            issues.append(Issue(name, f"declared int4 weight is {_fmt(a) if a is None else a.dtype}, not an int8 "
                                      "initializer", "qparams"))
        elif a.size and (int(a.min()) < -8 or int(a.max()) > 7):
            issues.append(Issue(name, f"declared int4 weight has codes in [{a.min()}, {a.max()}], outside "
                                      "[-8, 7]", "qparams"))
    return issues


def check_qdq_graph(model: onnx.ModelProto, expected: Expected | None = None) -> list[Issue]:
    gi = GraphIndex(model)
    return unquantized_tensors(model, gi) + qparam_mismatches(model, expected, gi) + int4_weight_issues(gi)


def verify_qdq_graph(model: onnx.ModelProto | str | Path, expected: Expected | None = None,
                     label: str = "model.onnx") -> None:
    """Raise ``FqssError`` (one line, then the list) unless the graph meets the QDQ contract."""
    if not isinstance(model, onnx.ModelProto):
        label = str(model)
        model = onnx.load(str(model))
    issues = check_qdq_graph(model, expected)
    if not issues:
        return
    n_unq = sum(i.kind == "unquantized" for i in issues)
    listed = "\n".join(f"  - {i}" for i in issues[:MAX_LISTED])
    more = f"\n  ... and {len(issues) - MAX_LISTED} more" if len(issues) > MAX_LISTED else ""
    raise FqssError(f"{label}: QDQ contract violated: {n_unq} unquantized tensor(s), "
                    f"{len(issues) - n_unq} scale/zero point problem(s) vs the checkpoint\n{listed}{more}")
