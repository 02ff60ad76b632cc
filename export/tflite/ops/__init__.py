"""Operator converters, one module per ONNX-QDQ pattern. Importing this package registers them all
(explicit list: a converter exists only if it is imported here)."""

from fqss_edge.export.tflite.ops import (  # noqa: F401
    add,
    concat,
    conv,
    conv_transpose,
    gemm,
    input_splitter,
    io,
    leaky_relu,
    lstm,
    matmul,
    mul,
    output_reconstruction,
    pad,
    reduce_mean,
    relu,
    requantize,
    reshape,
    rsqrt,
    sigmoid,
    slice,
    softmax,
    sub,
    tanh,
    transpose,
)
