"""The onnxruntime flavour of the int8 QDQ graph (``fqss-edge export --target onnxruntime``, the default .onnx).

onnxruntime's x86 CPU kernels are fast for uint8 activations (MLAS u8u8 / u8s8 kernels) and slow for int8
activations (s8s8: ~4x slower than u8u8 on a 1x1 convolution here, `benchmarks/results/ort_flavours.md`), and
its NHWC layout pass leaves a mean over time (``ReduceMean(axes=[2])`` on ``[1, C, T]``) as a strided reduction
over the middle axis of ``[1, T, C]`` (~30x slower than over the last axis). The flavour rewrites the graph
``export/onnx`` writes (the contract graph, which the TFLite writer reads) in these steps:

* ``integer_lstms``: each quantized float ``LSTM`` (onnxruntime has no integer one) becomes the integer kernel's
  arithmetic in int64 operators and a ``Scan`` over time (``export/onnx/integer_lstm.py``): onnxruntime then
  computes the simulation's (and TFLite's) hidden-state codes exactly instead of approximating them in float.

* ``uint8_activations``: every int8 tensor becomes uint8 on the same grid: codes + 128, zero point + 128.
  ``QuantizeLinear``/``DequantizeLinear`` give exactly the same values (rounding and saturation move with the
  codes), so the quantized meaning is unchanged bit for bit; int16 tensors and int32 biases stay as they are.
  The weights too (per channel, zero point 128 in every channel): with int8 weights onnxruntime runs u8s8
  kernels whose ``vpmaddubsw`` saturates a pair of products at 16 bits on CPUs without VNNI (measured: the
  first convolution off by up to 27 codes in 32 % of its outputs); u8u8 kernels widen first and are exact, at
  about the same speed here.
* ``add_negated_means``: ``Q(x - m)`` with ``m = Q(f)`` a per-tensor uint8 mean (the gLN's centring: onnxruntime
  has no QLinearSub, so it ran as DQ -> float Sub -> Q over the whole tensor) becomes ``Q(x + n)`` with
  ``n = Q(Neg(f))`` at m's scale and zero point ``255 - z_m``: round half to even is odd-symmetric and the
  clamping range mirrors, so n's value is exactly -m's and the float32 sum is the same number (QLinearAdd).
  n is named ``<m>.negated``; per-layer parity reads its codes back as m's.
* ``channels_first_means`` (then ``integer_channel_sums``): the float composite ``ReduceMean(axes=[2]) ->
  ReduceMean(axes=[1])`` (a gLN mean, no quantizer between) becomes ``ReduceMean(axes=[1]) ->
  ReduceMean(axes=[2])``: the same mean, summed in another float32 order (both approximate the simulation's
  mean, as every runtime's sum does), with a fast last-axis reduction in onnxruntime's NHWC layout. This step
  alone is not exact by construction: a float32 mean one ulp apart could round to the other code when it falls
  on a rounding boundary. Measured: the two flavours without
  optimisation gave identical outputs and codes on every test model, the shipped model's test set and the
  full-size benchmark input (`tests/export/onnx/test_flavour.py`, `benchmarks/results/ort_flavours.md`).
  The channel mean is then a ``MatMul`` with a constant ``[1, 1, C]`` of 1/C (``integer_channel_sums``), which
  onnxruntime runs as MatMulIntegerToFloat: the int32 sum of the codes times one scale (without optimisation, a
  float32 product sum: again the same mean in another float order).
* ``exact_time_means``: the int16 per-channel time means kept at their input's scale (the gLN's ``q_var_time``,
  ``DQ -> ReduceMean(axes=[2]) -> Q``) are computed exactly: the int16 codes summed in float64 (exact), divided
  by T (correctly rounded: a tie is exactly k + 1/2), rounded half to even, as the simulation computes them
  (``quant/layers/norm.py``, ``exact_time_mean``). onnxruntime's float32 ReduceMean rounded exact ties (one
  sum in T for an even T) and some near ties the other way: on the smoke DPTNet (T = 4) 2.7 % of these codes,
  and the difference reached the output by 2 LSB once the attention's K and V were symmetric.
(The flavour once also had ``exact_leaky_relus``, TFLite's int8 LEAKY_RELU codes as tables: since quantized-semantics
revision 4 an int8 LeakyReLU is QUANTIZE, MUL and ADD, which onnxruntime computes as the simulation does, and no
8-bit LeakyRelu is exported.)

The result records ``fqss.onnx_flavour = onnxruntime`` and its own initializer hash. Per-layer parity reads its
uint8 codes back as the int8 codes of the simulation (``codes_as_int8``).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.integer_lstm import integer_lstms
from fqss_edge.fingerprint import ONNX_WEIGHTS_KEY, onnx_weights_sha256

FLAVOUR_KEY = "fqss.onnx_flavour"
TARGETS = ("onnxruntime", "tflite")


def flavour_of(proto: onnx.ModelProto) -> str:
    """``onnxruntime`` for the flavour written here, ``tflite`` for the contract graph (exports before it too)."""
    meta = {p.key: p.value for p in proto.metadata_props}
    return meta.get(FLAVOUR_KEY, "tflite")


def onnxruntime_flavour(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The onnxruntime flavour of an int8 QDQ contract graph (a copy; see the module docstring)."""
    if flavour_of(proto) != "tflite":
        raise FqssError(f"the graph is already the {flavour_of(proto)} flavour")
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    integer_lstms(m)
    uint8_activations(m.graph)
    add_negated_means(m.graph)
    channels_first_means(m.graph)
    integer_channel_sums(m)
    exact_time_means(m.graph)
    props = {p.key: p.value for p in m.metadata_props}
    props[FLAVOUR_KEY] = "onnxruntime"
    props.pop(ONNX_WEIGHTS_KEY, None)
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, props)
    m.metadata_props.add(key=ONNX_WEIGHTS_KEY, value=onnx_weights_sha256(m))
    return m


def _consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    out: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for n in graph.node:
        for k, name in enumerate(n.input):
            out.setdefault(name, []).append((n, k))
    return out


def uint8_activations(graph: onnx.GraphProto) -> None:
    """int8 -> uint8 (codes and zero points + 128) for every Q/DQ tensor, weights included, in place."""
    inits = {i.name: i for i in graph.initializer}
    convert = set()
    for n in graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(n.input) < 3:
            continue
        for name in ([n.input[0]] if n.op_type == "DequantizeLinear" else []) + [n.input[2]]:
            if name in inits and inits[name].data_type == TensorProto.INT8:
                convert.add(name)
    for name in sorted(convert):
        codes = numpy_helper.to_array(inits[name]).astype(np.int16) + 128
        inits[name].CopyFrom(numpy_helper.from_array(codes.astype(np.uint8), name))


NEGATED = ".negated"


def add_negated_means(graph: onnx.GraphProto) -> None:
    """``DQ(x) - DQ(Q(f))`` -> ``DQ(x) + DQ(Q(Neg(f)))`` for a per-tensor uint8 mean ``f`` (a ReduceMean's
    output: a Neg after a Conv would keep that Conv from becoming a QLinearConv), in place."""
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    after: dict[str, list[onnx.NodeProto]] = {}  # Q output name -> the Neg and Q written after that Q
    for sub in graph.node:
        dq = producers.get(sub.input[1]) if sub.op_type == "Sub" else None
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        zp = inits.get(q.input[2]) if q is not None and q.op_type == "QuantizeLinear" and len(q.input) > 2 else None
        f = producers.get(q.input[0]) if zp is not None else None
        if f is None or f.op_type != "ReduceMean" or zp.data_type != TensorProto.UINT8 or \
                numpy_helper.to_array(zp).size != 1:
            continue
        name = q.output[0] + NEGATED
        if name not in after:
            z = numpy_helper.from_array(np.array(255 - int(numpy_helper.to_array(zp)), dtype=np.uint8),
                                        f"{name}.zero_point")
            graph.initializer.append(z)
            after[q.output[0]] = [
                onnx.helper.make_node("Neg", [q.input[0]], [f"{name}/Neg:0"], name=f"{name}/Neg"),
                onnx.helper.make_node("QuantizeLinear", [f"{name}/Neg:0", q.input[1], z.name], [name],
                                      name=f"{name}/QuantizeLinear")]
        dq.input[0], dq.input[2] = name, f"{name}.zero_point"
        sub.op_type = "Add"
        head, _, _ = sub.name.rpartition("/")
        sub.name = f"{head}/Add" if head else f"{sub.name}_Add"
    nodes = []
    for n in graph.node:
        nodes.append(n)
        nodes.extend(after.get(n.output[0], []) if n.op_type == "QuantizeLinear" else [])
    read = {i for n in nodes for i in n.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if not (n.op_type == "QuantizeLinear" and n.output[0] in after
                                      and n.output[0] not in read)]  # m, now read by nobody
    del graph.node[:]
    graph.node.extend(nodes)


def _axes(inits: dict[str, onnx.TensorProto], node: onnx.NodeProto) -> list[int] | None:
    if len(node.input) < 2 or node.input[1] not in inits:
        return None
    return [int(a) for a in numpy_helper.to_array(inits[node.input[1]]).reshape(-1)]


def channels_first_means(graph: onnx.GraphProto) -> None:
    """``ReduceMean(axes=[2]) -> ReduceMean(axes=[1])`` (keepdims, nothing between) -> axes [1] then [2]."""
    inits = {i.name: i for i in graph.initializer}
    consumers = _consumers(graph)
    swapped = 0
    for first in graph.node:
        if first.op_type != "ReduceMean" or _axes(inits, first) != [2]:
            continue
        uses = consumers.get(first.output[0], [])
        if len(uses) != 1 or uses[0][0].op_type != "ReduceMean" or _axes(inits, uses[0][0]) != [1]:
            continue
        second = uses[0][0]
        first.input[1], second.input[1] = second.input[1], first.input[1]
        first.name, second.name = _renamed(first.name, "channels"), _renamed(second.name, "time")
        swapped += 1
    if swapped and len({n.name for n in graph.node}) != len(graph.node):
        raise FqssError("onnxruntime flavour: renaming the reordered means gave duplicate node names")


def _channel_counts(model: onnx.ModelProto) -> dict[str, int]:
    """Tensor name -> its (static) dimension 1, from ONNX shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = v.type.tensor_type.shape.dim
        if len(dims) == 3 and dims[1].HasField("dim_value"):
            out[v.name] = dims[1].dim_value
    return out


def integer_channel_sums(model: onnx.ModelProto) -> None:
    """The channel mean of a reordered composite, ``DQ(x) -> ReduceMean(axes=[1])`` on ``[1, C, T]``, becomes
    ``MatMul(DQ(ones), DQ(x))`` with ``ones`` ``[1, 1, C]`` of value float32(1/C) (uint8 code 129, zero point
    128): onnxruntime runs it as MatMulIntegerToFloat, the exact int32 sum of the codes times one float32 scale,
    and drops the float copy of the whole tensor (its DequantizeLinear), in place."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    consumers = _consumers(graph)
    channels = _channel_counts(model)
    inserted: dict[str, onnx.NodeProto] = {}  # MatMul node name -> the DQ of its ones, written before it
    for n in graph.node:
        dq = producers.get(n.input[0]) if n.op_type == "ReduceMean" and _axes(inits, n) == [1] else None
        uses = consumers.get(n.output[0], [])
        if dq is None or dq.op_type != "DequantizeLinear" or n.input[0] not in channels or len(uses) != 1 \
                or uses[0][0].op_type != "ReduceMean" or _axes(inits, uses[0][0]) != [2]:
            continue
        c = channels[n.input[0]]
        head = n.name.rpartition("/")[0] or n.name
        ones = f"const.channel_mean_{c}"  # one constant per channel count, a DQ per MatMul
        if ones not in inits:
            for t in (numpy_helper.from_array(np.full((1, 1, c), 129, dtype=np.uint8), ones),
                      numpy_helper.from_array(np.array(1.0 / c, dtype=np.float32), f"{ones}.scale"),
                      numpy_helper.from_array(np.array(128, dtype=np.uint8), f"{ones}.zero_point")):
                graph.initializer.append(t)
                inits[t.name] = t
        inserted[f"{head}/MatMul_channels"] = onnx.helper.make_node(
            "DequantizeLinear", [ones, f"{ones}.scale", f"{ones}.zero_point"], [f"{head}/MatMul/DequantizeLinear:0"],
            name=f"{head}/MatMul/DequantizeLinear")
        x = n.input[0]
        del n.input[:], n.attribute[:]
        n.op_type, n.name = "MatMul", f"{head}/MatMul_channels"
        n.input.extend([inserted[n.name].output[0], x])
    nodes = []
    for n in graph.node:
        if n.op_type == "MatMul" and n.name in inserted:
            nodes.append(inserted[n.name])
        nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)


def exact_time_means(graph: onnx.GraphProto) -> None:
    """``DQ(c) -> ReduceMean(axes=[2]) -> Q`` of an int16 tensor ``c`` kept at its own scale (the gLN's per-channel
    time means of the squares, ``q_var_time``; zero points 0) becomes the exact code the simulation rounds to
    (``quant/layers/norm.py``, ``exact_time_mean``): ``Round(ReduceSum(Cast(c, double)) / T)`` (float64: the sum
    is exact, ``Div`` correctly rounded, so a tie is exactly k + 1/2 and ``Round`` takes it to even), then
    ``Q`` of that integer at scale 1. onnxruntime's float32 ``ReduceMean`` put ties on either side by its own
    summation order, unlike the simulation. In place."""
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    consumers = _consumers(graph)
    before: dict[str, list[onnx.NodeProto]] = {}  # Q output -> the nodes written in place of DQ -> ReduceMean
    dropped: set[str] = set()  # outputs of the DQ and ReduceMean replaced
    for q in graph.node:
        mean = producers.get(q.input[0]) if q.op_type == "QuantizeLinear" and len(q.input) > 2 else None
        dq = producers.get(mean.input[0]) if mean is not None and mean.op_type == "ReduceMean" else None
        if dq is None or dq.op_type != "DequantizeLinear" or len(dq.input) < 3 or _axes(inits, mean) != [2] \
                or any(a.name == "keepdims" and a.i == 0 for a in mean.attribute):
            continue
        qp = [(inits.get(n.input[1]), inits.get(n.input[2])) for n in (dq, q)]
        if any(s is None or z is None or z.data_type != TensorProto.INT16 or numpy_helper.to_array(z).any()
               for s, z in qp) or numpy_helper.to_array(qp[0][0]) != numpy_helper.to_array(qp[1][0]):
            continue
        if len(consumers.get(dq.output[0], [])) != 1 or len(consumers.get(mean.output[0], [])) != 1:
            continue
        head = f"{q.output[0]}/exact_mean"
        one = "const.unit_scale"
        if one not in inits:
            inits[one] = numpy_helper.from_array(np.array(1.0, np.float32), one)
            graph.initializer.append(inits[one])
        codes = dq.input[0]
        before[q.output[0]] = [
            onnx.helper.make_node("Cast", [codes], [f"{head}/codes:0"], name=f"{head}/Cast", to=TensorProto.DOUBLE),
            onnx.helper.make_node("ReduceSum", [f"{head}/codes:0", mean.input[1]], [f"{head}/sum:0"],
                                  name=f"{head}/ReduceSum", keepdims=1),
            onnx.helper.make_node("Shape", [codes], [f"{head}/T:0"], name=f"{head}/Shape", start=2, end=3),
            onnx.helper.make_node("Cast", [f"{head}/T:0"], [f"{head}/Td:0"], name=f"{head}/CastT",
                                  to=TensorProto.DOUBLE),
            onnx.helper.make_node("Div", [f"{head}/sum:0", f"{head}/Td:0"], [f"{head}/mean:0"], name=f"{head}/Div"),
            onnx.helper.make_node("Round", [f"{head}/mean:0"], [f"{head}/round:0"], name=f"{head}/Round"),
            onnx.helper.make_node("Cast", [f"{head}/round:0"], [f"{head}/code:0"], name=f"{head}/CastFloat",
                                  to=TensorProto.FLOAT)]
        q.input[0], q.input[1] = f"{head}/code:0", one
        dropped |= {dq.output[0], mean.output[0]}
    nodes = []
    for n in graph.node:
        if n.output[0] not in dropped:
            nodes.extend(before.get(n.output[0], []) if n.op_type == "QuantizeLinear" else [])
            nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)


def _renamed(name: str, axis: str) -> str:
    head, _, _ = name.rpartition("/")
    return f"{head}/ReduceMean_{axis}" if head else f"ReduceMean_{axis}"


def codes_as_int8(proto: onnx.ModelProto, name_to_codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Integer codes of Q outputs read from a graph of either flavour, as the contract graph's (int8) codes."""
    if flavour_of(proto) != "onnxruntime":
        return name_to_codes
    out = {}
    for k, v in name_to_codes.items():
        if k.endswith(NEGATED) and v.dtype == np.uint8:  # n = 255 - m in uint8 codes
            out[k[: -len(NEGATED)]] = 127 - v.astype(np.int64)
        else:
            out[k] = v.astype(np.int64) - 128 if v.dtype == np.uint8 else v
    return out


__all__ = ["FLAVOUR_KEY", "TARGETS", "add_negated_means", "channels_first_means", "codes_as_int8", "exact_time_means",
           "flavour_of", "integer_channel_sums", "onnxruntime_flavour", "uint8_activations"]
