"""QGlobalLayerNorm as quantized element-wise ops (contract: docs/qdq_graph_contract.md, gLN).

    mean = Q8(ReduceMean_C(ReduceMean_T(x)))          xc = Q8(x - mean)      xn = Q16(DQ(xc))
    sq = Q16(xn * xn)                                 var_t = Q16(ReduceMean_T(sq)) at sq's scale (q_var_time)
    var = Q16(ReduceMean_C(var_t))                    ve = Q16(var + eps)    rstd = Q16(Reciprocal(Sqrt(ve)))
    nrm = Q16(xn * rstd)    n8 = Q8(DQ(nrm))          y = Q8(n8 * gamma)     out = Q8(y + beta)

With ``norm_bits: 8`` there is no ``var_t`` (ReduceMean_T -> ReduceMean_C is a float composite: one MEAN) and
the squares are split (see ``fqss_edge/quant/layers/norm.py``)::

    small = Q8(xc * xc) at scale s_xc^2, zp -128     rest = Q8(sq + threshold), range [0, hi]
    var = Q8(Q8(ReduceMean(small)) + Q8(ReduceMean(rest)))

with ``threshold`` the int8 constant code -1, scale float32(255 s_xc^2).

eps is an integer constant of the statistics' type with code 1 and scale float32(eps): exactly the value the
simulation adds. gamma and beta are int8 per-tensor constants ``[1, C, 1]``; a folded gLN (``gLN_folded``) has
neither and ends at ``out = Q8(xn * rstd)`` (``norm_bits`` 16: ``nrm = Q16(xn * rstd)``, ``out = Q8(DQ(nrm))``),
its consumer convs' weights and bias carrying gamma and beta.
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.expected import ExpectedConst
from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QGlobalLayerNorm, QLayerNorm


def reduce_mean(b: GraphBuilder, x: TensorRef, node: str, between: object = None, between_name: str = "",
                over_time: bool = True) -> str:
    """Mean over time, then over channels, keepdims (as the simulation computes it): ``ReduceMean(axes=[2]) ->
    [Q -> DQ with ``between``] -> ReduceMean(axes=[1])``. Without ``between`` the two ReduceMeans are one
    composite (a single MEAN in TFLite); onnxruntime's one-pass float32 sum over all C*T values would drift by
    up to ~3e-4 relative on long inputs. ``over_time=False`` (LayerNorm): one ``ReduceMean(axes=[1])``."""
    if not over_time:
        return b.node("ReduceMean", [b.dequantize(x, node), b.const("const.axes_1", np.array([1], dtype=np.int64))],
                      f"{node}/ReduceMean_channels", keepdims=1)
    per_channel = b.node("ReduceMean", [b.dequantize(x, node), b.const("const.axes_2", np.array([2], dtype=np.int64))],
                         f"{node}/ReduceMean_time", keepdims=1)
    if between is not None:
        mid = b.quantize(per_channel, between, between_name)
        per_channel = b.dequantize(mid, f"{node}/channels")
    return b.node("ReduceMean", [per_channel, b.const("const.axes_1", np.array([1], dtype=np.int64))],
                  f"{node}/ReduceMean_channels", keepdims=1)


def _affine_const(b: GraphBuilder, m: QGlobalLayerNorm, name: str, which: str, consumer: str) -> str:
    param = getattr(m, which).detach()
    quantizer = getattr(m, f"{which}_quant")
    if not b.quantized or not quantizer.enabled:
        return b.float_const(f"{name}.{which}", param.view(1, -1, 1).numpy())
    codes, scale = quantizer.export(param.view(1, -1))
    return b.quantized_const(f"{name}.{which}", codes.numpy().reshape(1, -1, 1), scale.numpy().reshape(()), 8,
                             consumer)


def threshold_const(b: GraphBuilder, m: QGlobalLayerNorm, name: str, consumer: str) -> str:
    """``-255 s^2`` as int8 code -1 with scale float32(255 s^2): exactly what the simulation subtracts."""
    t = np.array(m.square_threshold().detach().numpy(), dtype=np.float32)
    return b.quantized_const(f"{name}.square_threshold", np.array(-1), t, 8, consumer)


def split_variance(b: GraphBuilder, m: QGlobalLayerNorm, name: str, xn: TensorRef, sq: TensorRef) -> TensorRef:
    def n(step: str) -> str:
        return child(name, step)

    d = b.dequantize(xn, f"{name}/square_small")
    small = b.quantize(b.node("Mul", [d, d], f"{name}/square_small/Mul"), m.q_square_small, n("q_square_small"))
    thr = threshold_const(b, m, name, f"{name}/square_rest")
    rest = b.quantize(b.node("Add", [b.dequantize(sq, f"{name}/square_rest"), thr], f"{name}/square_rest/Add"),
                      m.q_square_rest, n("q_square_rest"))
    v_small = b.quantize(reduce_mean(b, small, f"{name}/var_small", over_time=m.over_time), m.q_var_small,
                         n("q_var_small"))
    v_rest = b.quantize(reduce_mean(b, rest, f"{name}/var_rest", over_time=m.over_time), m.q_var_rest,
                        n("q_var_rest"))
    node = f"{name}/var"
    total = b.node("Add", [b.dequantize(v_small, node), b.dequantize(v_rest, node)], f"{node}/Add")
    return b.quantize(total, m.q_var, n("q_var"))


def eps_const(b: GraphBuilder, m: QGlobalLayerNorm, name: str, consumer: str) -> str:
    eps = np.float32(m.eps)
    if not b.quantized:
        return b.float_const(f"{name}.eps", eps)
    return b.quantized_const(f"{name}.eps", np.array(1), np.array(eps), m.q_var.bits, consumer)


def gln_constants(m: QGlobalLayerNorm, name: str) -> dict[str, ExpectedConst]:
    """gamma and beta (int8 per tensor, [1, C, 1]), eps (code 1), the split squares' threshold (code -1)."""
    if not (m.q_mean if m.folded else m.gamma_quant).enabled:
        return {}
    out = {}
    for which in () if m.folded else ("gamma", "beta"):
        codes, scale = getattr(m, f"{which}_quant").export(getattr(m, which).detach().view(1, -1))
        out[f"{name}.{which}"] = ExpectedConst(codes.numpy().reshape(1, -1, 1), scale.numpy().reshape(()))
    out[f"{name}.eps"] = ExpectedConst(np.array(1), np.array(np.float32(m.eps)))
    if m.splits_squares():
        t = np.array(m.square_threshold().detach().numpy(), dtype=np.float32)
        out[f"{name}.square_threshold"] = ExpectedConst(np.array(-1), t)
    return out


# RSQRT is Sqrt -> Reciprocal; a mean over (C, T) is ReduceMean over T, then over C: one quantized op each
@register(QGlobalLayerNorm, QLayerNorm, constants=gln_constants,
          composites=(("Sqrt", "Reciprocal"), ("ReduceMean", "ReduceMean")))
def emit_gln(b: GraphBuilder, m: QGlobalLayerNorm, name: str, x: TensorRef) -> TensorRef:
    def n(step: str) -> str:
        return child(name, step)

    def op(kind: str, inputs: list[TensorRef], step: str, extra: tuple[str, ...] = (), **attrs: object) -> str:
        node = f"{name}/{step}"
        return b.node(kind, [b.dequantize(t, node) for t in inputs] + list(extra), f"{node}/{kind}", **attrs)

    mean = b.quantize(reduce_mean(b, x, f"{name}/mean", over_time=m.over_time), m.q_mean, n("q_mean"))
    xc = b.quantize(op("Sub", [x, mean], "centered"), m.q_centered, n("q_centered"))
    xn = b.requantize(xc, m.q_centered_wide, n("q_centered_wide")) if m.widen else xc
    d = b.dequantize(xn, f"{name}/square")
    sq = b.quantize(b.node("Mul", [d, d], f"{name}/square/Mul"), m.q_square, n("q_square"))
    if m.splits_squares() and b.quantized:
        var = split_variance(b, m, name, xn, sq)
    else:
        var = b.quantize(reduce_mean(b, sq, f"{name}/var", m.q_var_time, n("q_var_time"), m.over_time), m.q_var,
                         n("q_var"))
    eps = eps_const(b, m, name, f"{name}/var_eps")
    ve = b.quantize(op("Add", [var], "var_eps", (eps,)), m.q_var_eps, n("q_var_eps"))
    root = op("Sqrt", [ve], "rsqrt")
    rstd = b.quantize(b.node("Reciprocal", [root], f"{name}/rsqrt/Reciprocal"), m.q_rstd, n("q_rstd"))
    if m.folded and not m.widen:
        return b.quantize(op("Mul", [xn, rstd], "normed"), m.out_quant, n("out_quant"))
    nrm = b.quantize(op("Mul", [xn, rstd], "normed"), m.q_normed, n("q_normed"))
    if m.folded:
        return b.requantize(nrm, m.out_quant, n("out_quant"))
    if m.widen:
        nrm = b.requantize(nrm, m.q_normed_narrow, n("q_normed_narrow"))
    gamma = _affine_const(b, m, name, "gamma", f"{name}/scaled")
    y = b.quantize(op("Mul", [nrm], "scaled", (gamma,)), m.q_scaled, n("q_scaled"))
    beta = _affine_const(b, m, name, "beta", f"{name}/shifted")
    return b.quantize(op("Add", [y], "shifted", (beta,)), m.out_quant, n("out_quant"))
