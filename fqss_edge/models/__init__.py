"""Separation models built from quantized layers, and the factory that builds them from configs."""

from fqss_edge.models.convtasnet import ConvTasNet
from fqss_edge.models.factory import build_model, quant_spec

__all__ = ["ConvTasNet", "build_model", "quant_spec"]
