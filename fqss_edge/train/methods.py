"""The training methods and how each prepares its student (and teacher) from configs and a float checkpoint.

* ``float``: train the float model with the PIT SI-SDR loss.
* ``ptq``: post-training quantization (the baseline): float weights, ranges calibrated, no training.
* ``vanilla``: QAT with the same quantizers, plain PIT SI-SDR loss, no KD, no splitter, no residual output.
* ``fqss``: QAT with input splitter, residual output block and the SAKD loss against a frozen float teacher.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from fqss_edge.errors import FqssError
from fqss_edge.models import build_model
from fqss_edge.quant.tools import init_weight_ranges, is_quantizer_key, load_network_state, quantizer_prefixes

Method = Literal["float", "ptq", "vanilla", "fqss"]
METHODS: tuple[str, ...] = ("float", "ptq", "vanilla", "fqss")


def effective_quant(quant_cfg: dict[str, Any], method: str) -> dict[str, Any]:
    """The quant config a method really trains with (stored in its checkpoints)."""
    q = dict(quant_cfg)
    if method == "float":
        q.update(enabled=False, splitter=False, residual_output=False)
    elif method in ("vanilla", "ptq"):
        q.update(enabled=True, splitter=False, residual_output=False)
    else:
        q.update(enabled=True)
    return q


@torch.no_grad()
def load_float_weights(student: nn.Module, float_state: dict[str, torch.Tensor], seed: int = 0) -> None:
    """Copy a float model's weights into a quantized student; quantizer ranges are left to calibration.

    FQSS splitter: the encoder's high-byte channel takes the float weights, the new low-byte channel is drawn
    around their statistics. The residual block's re-encoder starts from the float encoder."""
    prefixes = quantizer_prefixes(student)
    target = student.state_dict()
    missing = []
    for key, value in target.items():
        if is_quantizer_key(key, prefixes):
            continue
        src_key = "encoder.conv.weight" if key == "residual.reencoder.conv.weight" else key
        src = float_state.get(src_key)
        if src is None:
            missing.append(key)
        elif src.shape == value.shape:
            value.copy_(src)
        elif key == "encoder.conv.weight" and value.shape[1] == 2 * src.shape[1]:
            # x = x_hi + (x_lo + 1) / 256 exactly, so [w, w / 256] reproduces the float encoder up to a constant
            # sum(w) / 256. (Drawing the low-byte weights with the statistics of w, as the reference does, feeds
            # the full-scale noise-like low byte through at full gain: measured -2.3 dB SI-SDRi after 200 QAT
            # steps on the tiny model, vs 4.3 dB for vanilla QAT.) w / 256 quantizes to 0 at first; the
            # straight-through gradient lets training grow it.
            value[:, : src.shape[1]].copy_(src)
            value[:, src.shape[1]:].copy_(src / 256.0)
        else:
            raise FqssError(f"teacher checkpoint: tensor {key} has shape {tuple(src.shape)}, "
                            f"the model needs {tuple(value.shape)} (different model config?)")
    if missing:
        raise FqssError(f"teacher checkpoint: missing tensors {', '.join(missing[:4])}"
                        f"{' ...' if len(missing) > 4 else ''} (is it a float checkpoint of this model?)")
    init_weight_ranges(student)


def build_models(model_cfg: dict[str, Any], quant_cfg: dict[str, Any], method: str,
                 float_state: dict[str, torch.Tensor] | None, seed: int = 0) -> tuple[nn.Module, nn.Module | None]:
    """(student, frozen teacher or None) for a method."""
    if method not in METHODS:
        raise FqssError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    q = effective_quant(quant_cfg, method)
    student = build_model(model_cfg, q)
    if method == "float":
        if float_state is not None:
            _load(student, float_state)
        return student, None
    if float_state is None:
        raise FqssError(f"--method {method} needs a float checkpoint: pass --teacher CKPT (train one with --method float)")
    load_float_weights(student, float_state, seed)
    teacher = None
    if method == "fqss":
        teacher = build_model(model_cfg, None)
        _load(teacher, float_state)
        teacher.eval().requires_grad_(False)
    return student, teacher


def _load(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    try:
        load_network_state(model, state)
    except (KeyError, RuntimeError) as e:
        raise FqssError(f"float checkpoint does not fit the model config: {str(e).splitlines()[0]}") from None
