"""The training methods and how each prepares its student (and teacher) from configs and a float checkpoint.

* ``float``: train the float model with the configured loss (``train.loss``: PIT SI-SDR or PIT MSE).
* ``ptq``: post-training quantization (the baseline): float weights, ranges calibrated, no training.
* ``vanilla``: QAT with the same quantizers, the plain loss, no KD, no splitter, no residual output.
* ``fqss``: QAT with input splitter, residual output block and the SAKD loss against a frozen float teacher.
"""

from __future__ import annotations

from typing import Literal

import torch

from fqss_edge.config import ModelConfigBase, QuantConfig
from fqss_edge.config_types import replace
from fqss_edge.errors import FqssError
from fqss_edge.models import SeparationModel, build_model
from fqss_edge.quant.tools import load_network_state

Method = Literal["float", "ptq", "vanilla", "fqss"]
METHODS: tuple[str, ...] = ("float", "ptq", "vanilla", "fqss")


def effective_quant(quant_cfg: QuantConfig, method: str) -> QuantConfig:
    """The quant config a method really trains with (stored in its checkpoints)."""
    if method == "float":
        return replace(quant_cfg, enabled=False, splitter=False, residual_output=False)
    if method in ("vanilla", "ptq"):
        return replace(quant_cfg, enabled=True, splitter=False, residual_output=False)
    return replace(quant_cfg, enabled=True)


def build_models(model_cfg: ModelConfigBase, quant_cfg: QuantConfig, method: str,
                 float_state: dict[str, torch.Tensor] | None) -> tuple[SeparationModel, SeparationModel | None]:
    """(student, frozen teacher or None) for a method."""
    if method not in METHODS:
        raise FqssError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    student = build_model(model_cfg, effective_quant(quant_cfg, method))
    if method == "float":
        if float_state is not None:
            _load(student, float_state)
        return student, None
    if float_state is None:
        raise FqssError(f"--method {method} needs a float checkpoint: pass --teacher CKPT (train one with --method float)")
    student.init_from_float(float_state)
    teacher = None
    if method == "fqss":
        teacher = build_model(model_cfg, None)
        _load(teacher, float_state)
        teacher.eval().requires_grad_(False)
    return student, teacher


def init_matching(model: SeparationModel, state: dict[str, torch.Tensor], source: str) -> tuple[int, int]:
    """Start a float model from another float checkpoint's network tensors (``train --init``): every tensor whose
    name and shape match is copied, the others keep their initialisation (e.g. a gLN model's convolutions into a
    BatchNorm model, whose BatchNorms start fresh). Returns (copied, tensors in the model)."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise FqssError(f"{source}: no tensor of this checkpoint fits the model config (--init)")
    model.load_state_dict(matching, strict=False)
    return len(matching), len(own)


def _load(model: SeparationModel, state: dict[str, torch.Tensor]) -> None:
    try:
        load_network_state(model, state)
    except (KeyError, RuntimeError) as e:
        raise FqssError(f"float checkpoint does not fit the model config: {str(e).splitlines()[0]}") from None
