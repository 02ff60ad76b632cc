"""Build models from typed configs: the float teacher and the quantized student share one architecture."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fqss_edge.models.convtasnet import ConvTasNet
from fqss_edge.quant.spec import FLOAT, QuantSpec
from fqss_edge.quant.tools import is_quantizer_key, quantizer_prefixes

MODELS: dict[str, type[nn.Module]] = {"convtasnet": ConvTasNet}


def _as_dict(cfg: Any) -> dict[str, Any]:
    return dict(cfg) if isinstance(cfg, dict) else cfg.model_dump()


def quant_spec(quant_cfg: Any | None) -> QuantSpec:
    if quant_cfg is None:
        return FLOAT
    q = _as_dict(quant_cfg)
    if not q.get("enabled", True):
        # quantizers off, but laid out as configured: a float checkpoint's state holds their (unused) tensors
        return QuantSpec(False, norm_bits=q.get("norm_bits", FLOAT.norm_bits), act_bits=q.get("act_bits", 8))
    return QuantSpec(True, q["weight_bits"], q["act_bits"], q["norm_bits"], q["calib_batches"], q["ema_alpha"])


def network_state(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A checkpoint's network tensors without its quantizers' (layout depends on the quant config it was saved
    with, e.g. norm_bits), so that a float model can seed any quantized student or float teacher."""
    model = build_model(config["model"], config.get("quant"))
    prefixes = quantizer_prefixes(model)
    return {k: v for k, v in state.items() if not is_quantizer_key(k, prefixes)}


def build_model(model_cfg: Any, quant_cfg: Any | None = None) -> nn.Module:
    """``quant_cfg=None`` (or ``enabled: false``) gives the float model: no splitter, no residual output."""
    m = _as_dict(model_cfg)
    spec = quant_spec(quant_cfg)
    q = _as_dict(quant_cfg) if quant_cfg is not None else {}
    fqss = spec.enabled
    cls = MODELS[m.get("name", "convtasnet")]
    return cls(**{k: v for k, v in m.items() if k not in ("name", "sample_rate", "norm")}, spec=spec,
               splitter=fqss and q.get("splitter", False), residual_output=fqss and q.get("residual_output", False))
