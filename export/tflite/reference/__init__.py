"""An integer reference interpreter for the .tflite files ``export`` writes: numpy implementations of the
TFLite reference kernels (tflite/kernels/internal/reference/*, the per-op Prepare multipliers) that must agree
EXACTLY with LiteRT's ``OpResolverType.BUILTIN_REF``.

    ref = ReferenceModel.from_file("model.tflite")
    out = ref.run(pcm)                      # the model's output
    out, tensors = ref.run(pcm, keep=True)  # and every tensor by name

One kernel per builtin, registered with ``@reference_kernel(B.CONV_2D, B.DEPTHWISE_CONV_2D)``
(``registry.py``), in small modules by family; importing this package registers them all (explicit list: a
kernel exists only if its module is imported here). A builtin without a kernel fails with its name.
"""

from fqss_edge.export.tflite.reference import (  # noqa: F401  (registers the kernels)
    activations,
    attention,
    bitwise,
    conv,
    dense,
    elementwise,
    lstm,
    quantize,
    reduce,
    resize,
    shape,
)
from fqss_edge.export.tflite.reference.model import ReferenceModel
from fqss_edge.export.tflite.reference.registry import KERNELS, RefOp, kernel_for, reference_kernel
from fqss_edge.export.tflite.reference.tensor import Tensor

__all__ = ["KERNELS", "RefOp", "ReferenceModel", "Tensor", "kernel_for", "reference_kernel"]
