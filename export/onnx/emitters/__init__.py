"""ONNX emitters, one module per layer family; importing this package registers all of them. Models have no
emitter: their graph is traced from their own forward (``export/onnx/trace.py``)."""

from fqss_edge.export.onnx.emitters import activations, attention, conv, elementwise, io, lstm, norm, shape

__all__ = ["activations", "attention", "conv", "elementwise", "io", "lstm", "norm", "shape"]
