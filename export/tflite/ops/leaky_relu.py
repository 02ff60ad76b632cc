"""ONNX LeakyRelu (DQ -> LeakyRelu(alpha) -> Q) -> TFLite LEAKY_RELU: a single-slope PReLU.

TFLite folds alpha into a fixed-point multiplier, and XNNPACK delegates int8 LEAKY_RELU (it does not delegate
int8 PRELU). The kernel rounds the negative side twice (its multiplier ``s_in alpha / s_out`` is below 1/2;
``fixedpoint.quantize_leaky_relu``, which the reference kernel uses too), XNNPACK once with 8-bit multipliers (9-15 %
of int8 codes differ), onnxruntime once. Our own int8 LeakyReLU is therefore exported as QUANTIZE, MUL and ADD
(``QPReLU``); this converter writes int16 LeakyReLUs (whose codes the simulation takes from the kernel) and the
LeakyRelu nodes of other ONNX graphs.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops._unary import unary_io, wide_io
from fqss_edge.export.tflite.registry import register


@register("LeakyRelu", writes=(B.LEAKY_RELU, B.QUANTIZE), bits=(8, 16),
          constraints="alpha is a float32 attribute (stored as is); int16 zero points 0; int8 in and int16 out or "
                      "the reverse: in int16 (QUANTIZE of the int8 side). The negative side is rounded twice "
                      "(multiplier s_in alpha / s_out < 1/2); the int16 simulation (QPReLU) computes these codes "
                      "exactly, onnxruntime's float LeakyRelu within one code (QPReLU's int8 form is no LeakyRelu)")
def convert_leaky_relu(ctx, node) -> None:
    x, out = unary_io(ctx, node, (8, 16), mixed=True)
    emit_leaky_relu(ctx, node, x, out, ctx.g.attr(node, "alpha", 0.01))


def emit_leaky_relu(ctx, node, x, out, alpha: float) -> None:
    """LEAKY_RELU of ``x`` into ``out`` (also a one-slope PRelu's form)."""
    opt = schema.LeakyReluOptionsT()
    opt.alpha = float(np.float32(alpha))
    t, y, finish = wide_io(ctx, node, x, out)  # int8 <-> int16 (a mixed-precision plan): in int16
    ctx.b.op(B.LEAKY_RELU, [t], [y], opt)
    finish()
