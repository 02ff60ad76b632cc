"""The size a model config describes, checked before any weight is allocated (a config from a file or a
checkpoint can ask for billions of parameters with a few digits)."""

from __future__ import annotations

import torch

from fqss_edge.config_types import ModelConfigBase
from fqss_edge.errors import FqssError

MAX_PARAMETERS = 100_000_000  # 400 MB of float32 weights; the paper's Conv-TasNet has 5.1 M


def parameter_count(cfg: ModelConfigBase) -> int:
    """Parameters of the float model ``cfg`` describes, counted on the meta device (nothing allocated)."""
    from fqss_edge.models.factory import build_model

    with torch.device("meta"):
        model = build_model(cfg, None)
    return sum(p.numel() for p in model.parameters())


def check_model_size(cfg: ModelConfigBase, source: str) -> None:
    """``FqssError`` naming ``source`` if the model would have more than ``MAX_PARAMETERS`` parameters."""
    n = parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise FqssError(f"{source}: the model config describes {n / 1e6:,.0f} M parameters ({4 * n / 2**30:,.1f} GiB "
                        f"of float32 weights); at most {MAX_PARAMETERS / 1e6:.0f} M are accepted")
