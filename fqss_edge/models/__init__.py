"""Separation models built from quantized layers, the registry of architectures and the factory.

Registered architectures (an explicit list: an architecture exists only if it is registered here).
"""

from fqss_edge.models.base import MaskingModel, SeparationModel
from fqss_edge.models.convtasnet import ConvTasNet, ConvTasNetConfig
from fqss_edge.models.dprnn import DPRNN, DPRNNConfig
from fqss_edge.models.dptnet import DPTNet, DPTNetConfig
from fqss_edge.models.flatconv import FlatConv, FlatConvConfig
from fqss_edge.models.resunet import ResUNet, ResUNetConfig
from fqss_edge.models.sepformer import Sepformer, SepformerConfig
from fqss_edge.models.waveunet import WaveUNet, WaveUNetConfig
from fqss_edge.models.waveunet_lite import WaveUNetLite, WaveUNetLiteConfig
from fqss_edge.models.registry import ARCHITECTURES, Architecture, architecture, register_architecture

for _model in (ConvTasNet, DPRNN, DPTNet, FlatConv, ResUNet, Sepformer, WaveUNet, WaveUNetLite):
    register_architecture(_model)

from fqss_edge.models.factory import build_model, model_config, quant_spec  # noqa: E402  (needs the registry)

__all__ = ["ARCHITECTURES", "Architecture", "ConvTasNet", "ConvTasNetConfig", "DPRNN", "DPRNNConfig", "DPTNet", "DPTNetConfig", "FlatConv", "FlatConvConfig",
           "MaskingModel", "ResUNet", "ResUNetConfig", "SeparationModel", "Sepformer", "SepformerConfig", "WaveUNet",
           "WaveUNetConfig", "WaveUNetLite", "WaveUNetLiteConfig", "architecture", "build_model",
           "model_config", "quant_spec", "register_architecture"]
