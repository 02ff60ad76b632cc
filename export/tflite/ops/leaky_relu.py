"""ONNX LeakyRelu (DQ -> LeakyRelu(alpha) -> Q) -> TFLite LEAKY_RELU: a single-slope PReLU.

TFLite folds alpha into a fixed-point multiplier, and XNNPACK delegates int8 LEAKY_RELU (it does not delegate
int8 PRELU), so a one-slope PReLU is exported as LeakyRelu. The kernel rounds the negative side twice (its
multiplier ``s_in alpha / s_out`` is below 1/2): the simulation (``QPReLU``) computes these codes exactly
(``fixedpoint.quantize_leaky_relu``, which the reference kernel uses too), and so does onnxruntime in the flavour
``export --exact-leaky-relu`` writes (``export/onnx/flavour.py``, ``exact_leaky_relus``); the contract graph's float
LeakyRelu, and the default flavour's (fused into QLinearLeakyRelu), round once (within one code).
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
                      "(multiplier s_in alpha / s_out < 1/2); the simulation (QPReLU) computes these codes exactly "
                      "(one bit width), onnxruntime's float LeakyRelu within one code")
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
