"""QGlobalLayerNorm as quantized element-wise ops (contract: docs/qdq_graph_contract.md, gLN).

    mean = Q8(ReduceMean(x))     xc = Q8(x - mean)        xn = Q16(DQ(xc))          sq = Q16(xn * xn)
    var = Q16(ReduceMean(sq))    ve = Q16(var + eps)      rstd = Q16(Reciprocal(Sqrt(ve)))   (one RSQRT)
    nrm = Q16(xn * rstd)         n8 = Q8(DQ(nrm))         y = Q8(n8 * gamma)        out = Q8(y + beta)

eps is an integer constant of the statistics' type with code 1 and scale float32(eps): exactly the value the
simulation adds. gamma and beta are int8 per-tensor constants ``[1, C, 1]``.
"""

from __future__ import annotations

import numpy as np

from fqss_edge.export.onnx.graph import GraphBuilder, TensorRef
from fqss_edge.export.onnx.registry import child, register
from fqss_edge.quant.layers import QGlobalLayerNorm

AXES = "const.axes_1_2"


def reduce_mean(b: GraphBuilder, x: str, node: str) -> str:
    """Mean over channels and time, keepdims. ``b.split_reduce_mean``: as the composite
    ``ReduceMean(axes=[2]) -> ReduceMean(axes=[1])`` (the same mean; onnxruntime's one-pass float32 sum over
    C*T values drifts by up to ~3e-4 relative on long inputs, off by several int16 codes)."""
    if not b.split_reduce_mean:
        return b.node("ReduceMean", [x, b.const(AXES, np.array([1, 2], dtype=np.int64))], f"{node}/ReduceMean",
                      keepdims=1)
    per_channel = b.node("ReduceMean", [x, b.const("const.axes_2", np.array([2], dtype=np.int64))],
                         f"{node}/ReduceMean_time", keepdims=1)
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


def eps_const(b: GraphBuilder, m: QGlobalLayerNorm, name: str, consumer: str) -> str:
    eps = np.float32(m.eps)
    if not b.quantized:
        return b.float_const(f"{name}.eps", eps)
    return b.quantized_const(f"{name}.eps", np.array(1), np.array(eps), m.q_var.bits, consumer)


@register(QGlobalLayerNorm)
def emit_gln(b: GraphBuilder, m: QGlobalLayerNorm, name: str, x: TensorRef) -> TensorRef:
    def n(step: str) -> str:
        return child(name, step)

    def op(kind: str, inputs: list[TensorRef], step: str, extra: tuple[str, ...] = (), **attrs: object) -> str:
        node = f"{name}/{step}"
        return b.node(kind, [b.dequantize(t, node) for t in inputs] + list(extra), f"{node}/{kind}", **attrs)

    mean = b.quantize(reduce_mean(b, b.dequantize(x, f"{name}/mean"), f"{name}/mean"), m.q_mean, n("q_mean"))
    xc = b.quantize(op("Sub", [x, mean], "centered"), m.q_centered, n("q_centered"))
    xn = b.requantize(xc, m.q_centered_wide, n("q_centered_wide")) if m.widen else xc
    d = b.dequantize(xn, f"{name}/square")
    sq = b.quantize(b.node("Mul", [d, d], f"{name}/square/Mul"), m.q_square, n("q_square"))
    var = b.quantize(reduce_mean(b, b.dequantize(sq, f"{name}/var"), f"{name}/var"), m.q_var, n("q_var"))
    eps = eps_const(b, m, name, f"{name}/var_eps")
    ve = b.quantize(op("Add", [var], "var_eps", (eps,)), m.q_var_eps, n("q_var_eps"))
    root = op("Sqrt", [ve], "rsqrt")
    rstd = b.quantize(b.node("Reciprocal", [root], f"{name}/rsqrt/Reciprocal"), m.q_rstd, n("q_rstd"))
    nrm = b.quantize(op("Mul", [xn, rstd], "normed"), m.q_normed, n("q_normed"))
    if m.widen:
        nrm = b.requantize(nrm, m.q_normed_narrow, n("q_normed_narrow"))
    gamma = _affine_const(b, m, name, "gamma", f"{name}/scaled")
    y = b.quantize(op("Mul", [nrm], "scaled", (gamma,)), m.q_scaled, n("q_scaled"))
    beta = _affine_const(b, m, name, "beta", f"{name}/shifted")
    return b.quantize(op("Add", [y], "shifted", (beta,)), m.out_quant, n("out_quant"))
