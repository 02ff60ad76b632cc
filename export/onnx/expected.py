"""What the checkpoint says every quantized tensor of the graph must hold, read from the module tree.

Activations are keyed by their quantizer's module path (the name of the QuantizeLinear output), constants by
their initializer name (``<layer>.weight``, ``<gln>.gamma``, ``<gln>.beta``, ``<gln>.eps``,
``<gln>.square_threshold``). Biases are checked
structurally by the verifier (scale = s_in * s_w of the conv's own input and weight DQs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from fqss_edge.export.onnx.graph import QParams
from fqss_edge.quant.layers import InputSplitter, QConv1d, QConvTranspose1d, QGlobalLayerNorm
from fqss_edge.quant.layers.io import BYTE_SCALE
from fqss_edge.quant.quantizers import ActQuantizer, FixedQuantizer, TiedQuantizer


@dataclass(frozen=True)
class ExpectedConst:
    codes: np.ndarray
    scale: np.ndarray  # float32, per channel (1-D) or per tensor (0-d)
    axis: int | None = None


@dataclass
class Expected:
    activations: dict[str, QParams] = field(default_factory=dict)
    constants: dict[str, ExpectedConst] = field(default_factory=dict)


def expected_from_model(model: nn.Module) -> Expected:
    e = Expected()
    for name, m in model.named_modules():
        if isinstance(m, ActQuantizer) and m.enabled and m.calibrated or isinstance(m, FixedQuantizer) and m.enabled:
            e.activations[name] = QParams.of(m)
        elif isinstance(m, TiedQuantizer) and m.enabled and m.tied.enabled and getattr(m.tied, "calibrated", True):
            e.activations[name] = QParams.of(m)
        elif isinstance(m, InputSplitter) and m.enabled:
            e.activations[name] = QParams(float(np.float32(BYTE_SCALE)), 0, 8)
        elif isinstance(m, (QConv1d, QConvTranspose1d)) and m.weight_quant.enabled:
            codes, scale = m.weight_quant.export(m.conv.weight.detach())
            e.constants[f"{name}.weight"] = ExpectedConst(codes.numpy(), scale.numpy(), m.weight_axis)
        elif isinstance(m, QGlobalLayerNorm) and m.gamma_quant.enabled:
            for which in ("gamma", "beta"):
                codes, scale = getattr(m, f"{which}_quant").export(getattr(m, which).detach().view(1, -1))
                e.constants[f"{name}.{which}"] = ExpectedConst(codes.numpy().reshape(1, -1, 1),
                                                              scale.numpy().reshape(()))
            e.constants[f"{name}.eps"] = ExpectedConst(np.array(1), np.array(np.float32(m.eps)))
            if m.splits_squares():
                t = np.array(m.square_threshold().detach().numpy(), dtype=np.float32)
                e.constants[f"{name}.square_threshold"] = ExpectedConst(np.array(-1), t)
    return e
