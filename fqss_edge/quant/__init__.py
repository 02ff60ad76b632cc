"""Quantizers and quantized layers (fully quantized: every tensor between operations is quantized)."""

from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import ActQuantizer, FixedQuantizer, WeightQuantizer, quantize_bias
from fqss_edge.quant.spec import FLOAT, QuantSpec

__all__ = ["FLOAT", "ActQuantizer", "FixedQuantizer", "QTensor", "QuantSpec", "WeightQuantizer", "quantize_bias"]
