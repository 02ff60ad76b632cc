"""ONNX LeakyRelu (a single-slope PReLU), float32 -> TFLite LEAKY_RELU."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.ops_float._common import unary
from fqss_edge.export.tflite.registry import register_float


@register_float("LeakyRelu", writes=(B.LEAKY_RELU,), constraints="alpha is a float32 attribute (stored as is)")
def convert_leaky_relu(ctx, node) -> None:
    opt = schema.LeakyReluOptionsT()
    opt.alpha = float(np.float32(ctx.g.attr(node, "alpha", 0.01)))
    unary(ctx, node, B.LEAKY_RELU, opt)
