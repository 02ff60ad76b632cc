"""What the checkpoint says every quantized tensor of the graph must hold, read from the module tree.

Activations are keyed by their quantizer's module path (the name of the QuantizeLinear output), constants by
their initializer name. Quantizer modules are read here; what a layer writes beyond its quantizers (its weights
and constants, fixed activations of its own) is declared with its emitter (``register(..., constants=...,
activations=...)``: ``<layer>.weight``, ``<gln>.gamma``, ``<gln>.beta``, ``<gln>.eps``,
``<gln>.square_threshold``, the splitter's bytes). Biases are checked structurally by the verifier
(scale = s_in * s_w of the conv's own input and weight DQs), and so is an activation a layer derives from its own
input's quantization (``FromInput``: the two sides of an int8 LeakyReLU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from fqss_edge.export.onnx.graph import QParams
from fqss_edge.export.onnx.registry import registration
from fqss_edge.quant.quantizers import ActQuantizer, FixedQuantizer, TiedQuantizer


@dataclass(frozen=True)
class ExpectedConst:
    codes: np.ndarray
    scale: np.ndarray  # float32, per channel (1-D) or per tensor (0-d)
    axis: int | None = None


@dataclass(frozen=True)
class FromInput:
    """An activation whose parameters follow from the quantization of the layer's input: ``rule(scale,
    zero_point)`` of the DQ that its Q reads (``through`` None: a requantization) or that the ``through`` op
    producing it reads first. Written only in some forms of the layer (an int8 LeakyReLU's), so its absence is no
    issue."""

    rule: Callable[[float, int], QParams]
    through: str | None = None


@dataclass
class Expected:
    activations: dict[str, QParams | FromInput] = field(default_factory=dict)
    constants: dict[str, ExpectedConst] = field(default_factory=dict)


def writes_qparams(m: nn.Module) -> bool:
    """A quantizer module whose parameters the graph must hold (enabled, calibrated)."""
    if isinstance(m, ActQuantizer):
        return m.enabled and m.calibrated
    if isinstance(m, FixedQuantizer):
        return m.enabled
    return isinstance(m, TiedQuantizer) and m.enabled and m.tied.enabled and getattr(m.tied, "calibrated", True)


def expected_from_model(model: nn.Module) -> Expected:
    import fqss_edge.export.onnx.emitters  # noqa: F401  (the layers' declarations)

    e = Expected()
    for name, m in model.named_modules():
        if writes_qparams(m):
            e.activations[name] = QParams.of(m)
            continue
        reg = registration(m)
        if reg is not None and reg.activations is not None:
            e.activations.update(reg.activations(m, name))
        if reg is not None and reg.constants is not None:
            e.constants.update(reg.constants(m, name))
    return e
