"""float32 operator converters, one module per ONNX op (plain float graphs: ``fqss-edge export --float``).
Importing this package registers them all in the ``FLOAT32`` registry (explicit list: a converter exists only
if it is imported here). They never see a QDQ graph, and the integer walker never sees them."""

from fqss_edge.export.tflite.ops_float import (  # noqa: F401
    add,
    clip,
    concat,
    conv,
    conv_transpose,
    floor,
    gemm,
    io,
    leaky_relu,
    lstm,
    matmul,
    mul,
    pad,
    prelu,
    reduce_mean,
    relu,
    reshape,
    resize,
    rsqrt,
    sigmoid,
    slice,
    softmax,
    sub,
    tanh,
    transpose,
)
