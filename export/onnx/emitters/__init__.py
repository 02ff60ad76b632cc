"""ONNX emitters, one module per layer family; importing this package registers all of them."""

from fqss_edge.export.onnx.emitters import activations, conv, convtasnet, elementwise, io, norm

__all__ = ["activations", "conv", "convtasnet", "elementwise", "io", "norm"]
