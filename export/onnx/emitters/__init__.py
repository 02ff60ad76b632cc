"""ONNX emitters, one module per layer family; importing this package registers all of them. Models have no
emitter: their graph is traced from their own forward (``export/onnx/trace.py``)."""

from fqss_edge.export.onnx.emitters import activations, conv, elementwise, io, lstm, norm

__all__ = ["activations", "conv", "elementwise", "io", "lstm", "norm"]
