"""Build models from typed configs: the float teacher and the quantized student share one architecture."""

from __future__ import annotations

from typing import Any

from torch import nn

from fqss_edge.models.convtasnet import ConvTasNet
from fqss_edge.quant.spec import FLOAT, QuantSpec

MODELS: dict[str, type[nn.Module]] = {"convtasnet": ConvTasNet}


def _as_dict(cfg: Any) -> dict[str, Any]:
    return dict(cfg) if isinstance(cfg, dict) else cfg.model_dump()


def quant_spec(quant_cfg: Any | None) -> QuantSpec:
    if quant_cfg is None:
        return FLOAT
    q = _as_dict(quant_cfg)
    if not q.get("enabled", True):
        return FLOAT
    return QuantSpec(True, q["weight_bits"], q["act_bits"], q["norm_bits"], q["calib_batches"], q["ema_alpha"])


def build_model(model_cfg: Any, quant_cfg: Any | None = None) -> nn.Module:
    """``quant_cfg=None`` (or ``enabled: false``) gives the float model: no splitter, no residual output."""
    m = _as_dict(model_cfg)
    spec = quant_spec(quant_cfg)
    q = _as_dict(quant_cfg) if quant_cfg is not None else {}
    fqss = spec.enabled
    cls = MODELS[m.get("name", "convtasnet")]
    return cls(**{k: v for k, v in m.items() if k not in ("name", "sample_rate", "norm")}, spec=spec,
               splitter=fqss and q.get("splitter", False), residual_output=fqss and q.get("residual_output", False))
