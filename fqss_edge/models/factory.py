"""Build models from typed configs: the float teacher and the quantized student share one architecture."""

from __future__ import annotations

from typing import Any

import torch
from fqss_edge.config_types import ModelConfigBase
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.registry import architecture
from fqss_edge.quant.plan import apply_plan
from fqss_edge.quant.spec import FLOAT, QuantSpec
from fqss_edge.quant.tools import is_quantizer_key, quantizer_prefixes


def model_config(cfg: ModelConfigBase | dict[str, Any], source: str = "model config") -> ModelConfigBase:
    """A typed model config; a mapping is validated by its architecture's config class (``name``, default
    ``convtasnet``)."""
    if isinstance(cfg, ModelConfigBase):
        return cfg
    from fqss_edge.config import parse_config

    return parse_config({"model": dict(cfg)}, source).model


def quant_config(quant_cfg: Any | None) -> Any | None:
    """A typed ``QuantConfig`` (a mapping is validated, with the config's defaults), or None."""
    if quant_cfg is None:
        return None
    from fqss_edge.config import QuantConfig, parse_config

    if isinstance(quant_cfg, QuantConfig):
        return quant_cfg
    return parse_config({"quant": dict(quant_cfg)}, "quant config").quant


def quant_spec(quant_cfg: Any | None) -> QuantSpec:
    """The one place a quant config becomes the ``QuantSpec`` the layers take (None: the float model)."""
    q = quant_config(quant_cfg)
    if q is None:
        return FLOAT
    if not q.enabled:
        # quantizers off, but laid out as configured: a float checkpoint's state holds their (unused) tensors
        return QuantSpec(False, norm_bits=q.norm_bits, act_bits=q.act_bits)
    return QuantSpec(True, q.weight_bits, q.act_bits, q.norm_bits, q.calib_batches, q.ema_alpha)


def build_model(model_cfg: ModelConfigBase | dict[str, Any], quant_cfg: Any | None = None,
                source: str = "config") -> SeparationModel:
    """``quant_cfg=None`` (or ``enabled: false``) gives the float model: no splitter, no residual output.
    A ``quant.plan`` gives its layers their bit widths (``fqss_edge.quant.plan``; ``source`` names the config in
    its errors)."""
    cfg = model_config(model_cfg)
    q = quant_config(quant_cfg)
    spec = quant_spec(q)
    fqss = spec.enabled
    model = architecture(cfg.name).model(cfg, spec=spec, splitter=fqss and q.splitter,
                                         residual_output=fqss and q.residual_output)
    return apply_plan(model, q.plan, source) if q is not None and q.plan else model


def network_state(state: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    """A checkpoint's network tensors without its quantizers' (layout depends on the quant config it was saved
    with, e.g. norm_bits), so that a float model can seed any quantized student or float teacher."""
    model = build_model(config.model, config.quant)
    prefixes = quantizer_prefixes(model)
    return {k: v for k, v in state.items() if not is_quantizer_key(k, prefixes)}
