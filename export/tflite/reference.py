"""An integer reference interpreter for the .tflite files ``export`` writes: numpy implementations of the
TFLite reference kernels (tflite/kernels/internal/reference/*, the per-op Prepare multipliers) that must agree
EXACTLY with LiteRT's ``OpResolverType.BUILTIN_REF``.

    ref = ReferenceModel.from_file("model.tflite")
    out = ref.run(pcm)                      # the model's output
    out, tensors = ref.run(pcm, keep=True)  # and every tensor by name
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite.builder import NUMPY_TYPES, BuiltinOperator as B, operator_name
from fqss_edge.export.tflite.fixedpoint import (
    inv_sqrt_quantized_multiplier_exp, lut_int8, lut_int16, lut_int16_lookup, mbqm, mbqm_smaller_than_one,
    np_round_away, quantize_multiplier)

F32 = np.float32


@dataclass
class Tensor:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    axis: int
    data: np.ndarray | None

    @property
    def s(self) -> float:
        return float(self.scale[0])

    @property
    def z(self) -> int:
        return int(self.zero_point[0]) if self.zero_point is not None and self.zero_point.size else 0


def _limits(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _qm(m: float) -> tuple[int, int]:
    return quantize_multiplier(float(m))


def _f32(v: float) -> np.float32:
    return np.float32(v)


def _requant_out(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray, out: Tensor, relu: bool = False
                 ) -> np.ndarray:
    lo, hi = _limits(out.dtype)
    if relu:  # fused RELU: CalculateActivationRangeQuantized clamps at the output zero point
        lo = max(lo, out.z)
    return np.clip(mbqm(acc, mult, shift) + out.z, lo, hi).astype(out.dtype)


# -- kernels ----------------------------------------------------------------------------------------------------
def _conv_geometry(w_in: int, k: int, stride: int, dil: int, padding: int) -> tuple[int, int]:
    k_eff = (k - 1) * dil + 1
    if padding == schema.Padding.SAME:
        out = -(-w_in // stride)
        total = max((out - 1) * stride + k_eff - w_in, 0)
        return out, total // 2
    return -(-(w_in - k_eff + 1) // stride), 0


def _per_channel(inp: Tensor, filt: Tensor, out: Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    fs = filt.scale if filt.scale.size == n else np.repeat(filt.scale, n)
    pairs = [_qm(float(inp.s) * float(s) / float(out.s)) for s in fs]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


def conv_like(x, inp, filt, bias, out, opt, depthwise: bool) -> np.ndarray:
    n, h, w_in, cin = x.shape
    wq = filt.data.astype(np.int64)
    if h != 1 or wq.shape[1] != 1 or opt.strideH not in (0, 1):
        raise FqssError("reference: only 1-D convolutions ([N, 1, T, C]) are implemented")
    k = wq.shape[2]
    s, d = opt.strideW, max(opt.dilationWFactor, 1)
    w_out, pad = _conv_geometry(w_in, k, s, d, opt.padding)
    xo = x.astype(np.int64)[:, 0] - inp.z  # [N, W, Cin]; outside the image contributes 0
    xp = np.zeros((n, w_in + (w_out * s + k * d) + pad, cin), dtype=np.float64)
    xp[:, pad:pad + w_in] = xo
    c_out = wq.shape[0] if not depthwise else wq.shape[3]
    acc = np.zeros((n, w_out, c_out), dtype=np.float64)  # exact: |sums| < 2^53
    for kk in range(k):
        tap = xp[:, kk * d: kk * d + (w_out - 1) * s + 1: s]  # [N, Wout, Cin]
        if depthwise:
            mult = c_out // cin
            acc += np.repeat(tap, mult, axis=2) * wq[0, 0, kk][None, None]
        else:
            acc += tap @ wq[:, 0, kk, :].T.astype(np.float64)
    acc = acc.astype(np.int64)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    m, sh = _per_channel(inp, filt, out, c_out)
    return _requant_out(acc, m, sh, out, _fused(opt))[:, None]


def _fused(opt) -> bool:
    act = opt.fusedActivationFunction
    if act not in (schema.ActivationFunctionType.NONE, schema.ActivationFunctionType.RELU):
        raise FqssError(f"reference: fused activation {act} is not implemented")
    return act == schema.ActivationFunctionType.RELU


def transpose_conv(x, inp, filt, bias, out, opt, out_shape) -> np.ndarray:
    n, h, w_in, cin = x.shape
    wq = filt.data.astype(np.float64)  # [Cout, 1, K, Cin]
    c_out, _, k, _ = wq.shape
    s = opt.strideW
    w_out = int(out_shape[2])
    _, pad = _conv_geometry(w_out, k, s, 1, opt.padding)
    xo = (x.astype(np.int64)[:, 0] - inp.z).astype(np.float64)
    full = np.zeros((n, (w_in - 1) * s + k + 2 * k, c_out), dtype=np.float64)
    for kk in range(k):
        full[:, kk: kk + (w_in - 1) * s + 1: s] += xo @ wq[:, 0, kk, :].T
    acc = full[:, pad: pad + w_out].astype(np.int64)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    m, sh = _per_channel(inp, filt, out, c_out)
    return _requant_out(acc, m, sh, out)[:, None]


def add_sub(a, b, ta, tb, out, sign: int) -> np.ndarray:
    left = 15 if out.dtype == np.int16 else 20
    twice_max = 2.0 * max(float(ta.s), float(tb.s))
    m1, s1 = _qm(float(ta.s) / twice_max)
    m2, s2 = _qm(float(tb.s) / twice_max)
    mo, so = _qm(twice_max / ((1 << left) * float(out.s)))
    x1 = (a.astype(np.int64) - ta.z) << left
    x2 = (b.astype(np.int64) - tb.z) << left
    raw = mbqm_smaller_than_one(x1, m1, s1) + sign * mbqm_smaller_than_one(x2, m2, s2)
    lo, hi = _limits(out.dtype)
    return np.clip(mbqm(raw, mo, so) + out.z, lo, hi).astype(out.dtype)


def mul(a, b, ta, tb, out) -> np.ndarray:
    m, s = _qm(float(_f32(ta.s) * _f32(tb.s) / _f32(out.s)))
    prod = (a.astype(np.int64) - ta.z) * (b.astype(np.int64) - tb.z)
    lo, hi = _limits(out.dtype)
    return np.clip(mbqm(prod, m, s) + out.z, lo, hi).astype(out.dtype)


def mean(x, inp, out, axes) -> np.ndarray:
    axes = tuple(sorted({int(a) % x.ndim for a in axes}))
    n = int(np.prod([x.shape[a] for a in axes]))
    total = np.sum(x.astype(np.int64), axis=axes, keepdims=True)
    total = ((total + 2**31) % 2**32) - 2**31  # int32 accumulator
    m, s = _qm(float(inp.s) / float(out.s))
    shift = min(n.bit_length() - 1, 32, 31 + s)
    m = (m << shift) // n
    s = s - shift
    shifted = total - inp.z * n
    shifted = ((shifted + 2**31) % 2**32) - 2**31
    lo, hi = _limits(out.dtype)
    return np.clip(mbqm(shifted, m, s) + out.z, lo, hi).astype(out.dtype)


def rsqrt(x, inp, out) -> np.ndarray:
    if inp.dtype == np.int16:
        os_ = _f32(out.s)

        def f(v):
            v = _f32(v)
            return _f32(32767) * os_ if v <= 0 else _f32(1) / np.sqrt(v)

        return lut_int16_lookup(x, lut_int16(f, inp.s, inp.z, out.s, out.z))
    if np.any(x.astype(np.int32) < inp.z):
        raise FqssError("reference: RSQRT of a negative value")
    m, s = _qm(1.0 / float(np.sqrt(_f32(inp.s)) * _f32(out.s)))
    table = np.zeros(256, dtype=np.int8)
    for v in range(-128, 128):
        value = v - inp.z
        if value < 0:
            continue
        if value == 0:
            table[v + 128] = 127
            continue
        im, ish = inv_sqrt_quantized_multiplier_exp(value)
        data = int(mbqm(np.int64(1), im, ish + 20))
        o = int(mbqm(np.int64(data), m, s - 20)) + out.z
        table[v + 128] = min(max(o, -128), 127)
    return table[x.astype(np.int32) + 128]


def leaky_relu(x, inp, out, alpha: float) -> np.ndarray:
    ma, sa = _qm(float(_f32(inp.s) * _f32(alpha) / _f32(out.s)))
    mi, si = _qm(float(_f32(inp.s) / _f32(out.s)))
    v = x.astype(np.int64) - inp.z
    y = np.where(v >= 0, mbqm(v, mi, si), mbqm(v, ma, sa)) + out.z
    lo, hi = _limits(out.dtype)
    return np.clip(y, lo, hi).astype(out.dtype)


def relu(x, inp, out) -> np.ndarray:
    m, s = _qm(float(_f32(inp.s) / _f32(out.s)))
    lo, hi = _limits(out.dtype)
    y = mbqm(x.astype(np.int64) - inp.z, m, s) + out.z
    return np.clip(y, max(lo, out.z), hi).astype(out.dtype)


def logistic(x, inp, out) -> np.ndarray:
    if inp.dtype != np.int8:
        raise FqssError("reference: only int8 LOGISTIC is implemented")
    lut = lut_int8(lambda v: (F32(1) / (F32(1) + np.exp(-v))).astype(np.float32), inp.s, inp.z, out.s, out.z)
    return lut[x.astype(np.int32) + 128]


def quantize(x, inp, out) -> np.ndarray:
    lo, hi = _limits(out.dtype)
    if x.dtype == np.float32:
        q = np_round_away((x / _f32(out.s)).astype(np.float32)).astype(np.int64) + out.z
        return np.clip(q, lo, hi).astype(out.dtype)
    m, s = _qm(float(inp.s) / float(out.s))
    return np.clip(mbqm(x.astype(np.int64) - inp.z, m, s) + out.z, lo, hi).astype(out.dtype)


def strided_slice(x, begin, end, strides, opt) -> np.ndarray:
    idx = []
    for i in range(x.ndim):
        b = None if opt.beginMask >> i & 1 else int(begin[i])
        e = None if opt.endMask >> i & 1 else int(end[i])
        idx.append(slice(b, e, int(strides[i])))
    return x[tuple(idx)]


class ReferenceModel:
    def __init__(self, data: bytes, name: str = "model.tflite"):
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise FqssError(f"{name}: not a TFLite flatbuffer")
        try:
            self.model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        except Exception as e:
            raise FqssError(f"{name}: corrupt TFLite file ({type(e).__name__})") from None
        sg = self.model.subgraphs[0]
        self.sg = sg
        self.tensors: list[Tensor] = []
        for t in sg.tensors:
            q = t.quantization
            buf = self.model.buffers[t.buffer].data if t.buffer else None
            dt = NUMPY_TYPES[t.type]
            data_arr = None
            if buf is not None and len(buf):
                data_arr = np.frombuffer(np.asarray(buf, dtype=np.uint8).tobytes(), dtype=dt).reshape(t.shape)
            scale = np.asarray(q.scale, dtype=np.float32) if q is not None and q.scale is not None else None
            zp = np.asarray(q.zeroPoint, dtype=np.int64) if q is not None and q.zeroPoint is not None else None
            name_ = t.name.decode() if isinstance(t.name, bytes) else t.name
            self.tensors.append(Tensor(name_, np.dtype(dt), tuple(int(s) for s in t.shape), scale, zp,
                                       q.quantizedDimension if q is not None else 0, data_arr))
        self.codes = [oc.builtinCode for oc in self.model.operatorCodes]

    @classmethod
    def from_file(cls, path: str | Path) -> "ReferenceModel":
        return cls(Path(path).read_bytes(), str(path))

    def op_names(self) -> list[str]:
        """The builtin operator of every operator, in execution order."""
        return [operator_name(self.codes[op.opcodeIndex]) for op in self.sg.operators]

    def run(self, *inputs: np.ndarray, keep: bool = False):
        vals: dict[int, np.ndarray] = {i: t.data for i, t in enumerate(self.tensors) if t.data is not None}
        for idx, x in zip(self.sg.inputs, inputs):
            vals[idx] = np.asarray(x, dtype=self.tensors[idx].dtype)
        for op in self.sg.operators:
            code = self.codes[op.opcodeIndex]
            ins = [vals.get(i) if i >= 0 else None for i in op.inputs]
            tin = [self.tensors[i] if i >= 0 else None for i in op.inputs]
            tout = self.tensors[op.outputs[0]]
            try:
                vals[op.outputs[0]] = self._eval(code, op.builtinOptions, ins, tin, tout)
            except FqssError:
                raise
            except Exception as e:
                raise FqssError(f"reference: {operator_name(code)} -> {tout.name}: {type(e).__name__}: {e}") from None
        outs = [vals[i] for i in self.sg.outputs]
        out = outs[0] if len(outs) == 1 else outs
        if keep:
            return out, {self.tensors[i].name: v for i, v in vals.items()}
        return out

    def _eval(self, code, opt, ins, tin, out: Tensor) -> np.ndarray:
        x, t0 = ins[0], tin[0]
        if code in (B.CONV_2D, B.DEPTHWISE_CONV_2D):
            return conv_like(x, t0, tin[1], tin[2] if len(tin) > 2 else None, out, opt, code == B.DEPTHWISE_CONV_2D)
        if code == B.TRANSPOSE_CONV:
            return transpose_conv(ins[2], tin[2], tin[1], tin[3] if len(tin) > 3 else None, out, opt, ins[0])
        if code in (B.ADD, B.SUB):
            return add_sub(x, ins[1], t0, tin[1], out, 1 if code == B.ADD else -1)
        if code == B.MUL:
            return mul(x, ins[1], t0, tin[1], out)
        if code == B.MEAN:
            return mean(x, t0, out, ins[1].reshape(-1))
        if code == B.RSQRT:
            return rsqrt(x, t0, out)
        if code == B.LEAKY_RELU:
            return leaky_relu(x, t0, out, opt.alpha)
        if code == B.RELU:
            return relu(x, t0, out)
        if code == B.LOGISTIC:
            return logistic(x, t0, out)
        if code == B.QUANTIZE:
            return quantize(x, t0, out)
        if code == B.DEQUANTIZE:
            return (np.float64(t0.s) * (x.astype(np.float64) - t0.z)).astype(np.float32)
        if code == B.RESHAPE:
            shape = [int(v) for v in ins[1]] if len(ins) > 1 and ins[1] is not None else list(opt.newShape)
            return x.reshape(shape)
        if code == B.TRANSPOSE:
            return np.transpose(x, [int(v) for v in ins[1]])
        if code == B.CONCATENATION:
            if any(t.z != out.z or t.s != out.s for t in tin if t.scale is not None):
                raise FqssError("reference: CONCATENATION with requantization is not implemented")
            return np.concatenate(ins, axis=opt.axis % x.ndim)
        if code == B.PAD:
            return np.pad(x, ins[1].astype(np.int64), constant_values=out.z if out.scale is not None else 0)
        if code == B.STRIDED_SLICE:
            return strided_slice(x, ins[1], ins[2], ins[3], opt)
        if code == B.CAST:
            return x.astype(out.dtype)  # wraps like static_cast
        if code == B.RIGHT_SHIFT:
            return (x.astype(np.int64) >> ins[1].astype(np.int64)).astype(out.dtype)
        if code == B.BITWISE_XOR:
            return np.bitwise_xor(x, ins[1]).astype(out.dtype)
        raise FqssError(f"reference: operator {operator_name(code)} is not implemented")
