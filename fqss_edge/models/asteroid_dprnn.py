"""Load asteroid's ``DPRNNTasNet`` state dicts into ``DPRNN`` (``fqss_edge/models/dprnn.py``) by key mapping.

asteroid: ``encoder.filterbank._filters``, ``masker.bottleneck.{0: gLN, 1: Conv1d}``,
``masker.net.{i}.{intra,inter}_RNN.rnn.*`` (``nn.LSTM``), ``{intra,inter}_linear`` (``nn.Linear``: our 1x1 conv,
one trailing axis), ``{intra,inter}_norm``, ``masker.first_out.{0: PReLU, 1: Conv2d 1x1}`` (our 1x1 Conv1d),
``masker.net_out.0``, ``masker.net_gate.0``, ``masker.mask_net``, ``decoder.filterbank._filters``.
Every asteroid tensor has exactly one counterpart; anything else is a one-line ``FqssError``.
"""

from __future__ import annotations

import re

import torch

from fqss_edge.errors import FqssError
from fqss_edge.models.dprnn import DPRNN
from fqss_edge.quant.tools import is_quantizer_key, quantizer_prefixes

_RULES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in [
    (r"^encoder\.filterbank\._filters$", "encoder.conv.weight"),
    (r"^decoder\.filterbank\._filters$", "decoder.conv.weight"),
    (r"^masker\.bottleneck\.0\.(gamma|beta)$", r"masker.norm.\1"),
    (r"^masker\.bottleneck\.1\.(weight|bias)$", r"masker.bottleneck.conv.\1"),
    (r"^masker\.net\.(\d+)\.(intra|inter)_RNN\.rnn\.((?:weight|bias)_(?:ih|hh)_l0(?:_reverse)?)$",
     r"masker.blocks.\1.\2.rnn.lstm.\3"),
    (r"^masker\.net\.(\d+)\.(intra|inter)_linear\.(weight|bias)$", r"masker.blocks.\1.\2.linear.conv.\3"),
    (r"^masker\.net\.(\d+)\.(intra|inter)_norm\.(gamma|beta)$", r"masker.blocks.\1.\2_norm.\3"),
    (r"^masker\.first_out\.0\.weight$", "masker.prelu.weight"),
    (r"^masker\.first_out\.1\.(weight|bias)$", r"masker.first_out.conv.\1"),
    (r"^masker\.(net_out|net_gate)\.0\.(weight|bias)$", r"masker.\1.conv.\2"),
    (r"^masker\.mask_net\.weight$", "masker.mask_net.conv.weight"),
]]


def _rename(key: str) -> str | None:
    for pattern, repl in _RULES:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return None


def _core(shape: torch.Size) -> tuple[int, ...]:
    """The shape without unit axes (a Linear weight and a 1x1 convolution's hold the same matrix)."""
    return tuple(d for d in shape if d != 1)


def dprnn_from_asteroid(model: DPRNN, state: dict[str, torch.Tensor], source: str = "asteroid state dict") -> None:
    """Copy an asteroid ``DPRNNTasNet`` state dict into ``model`` (same hyper-parameters); raises ``FqssError``
    naming ``source`` and the first unexpected, missing or misshapen tensor."""
    ours = model.state_dict()
    prefixes = quantizer_prefixes(model)
    # parameters only: the LSTMs' cell-range buffers are calibration state, as the quantizers'
    wanted = {k for k, _ in model.named_parameters() if not is_quantizer_key(k, prefixes)}
    seen = set()
    for key, value in state.items():
        new = _rename(key)
        if new is None or new not in ours:
            raise FqssError(f"{source}: unexpected tensor {key} (not a DPRNNTasNet of this configuration?)")
        target = ours[new]
        if _core(value.shape) != _core(target.shape):
            raise FqssError(f"{source}: tensor {key} has shape {tuple(value.shape)}, the model needs "
                            f"{tuple(target.shape)} (different hyper-parameters?)")
        with torch.no_grad():
            target.copy_(value.reshape(target.shape))  # Linear / Conv2d 1x1 -> Conv1d 1x1, PReLU [1] -> []
        seen.add(new)
    missing = sorted(wanted - seen)
    if missing:
        raise FqssError(f"{source}: missing tensors {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                        f"(not a DPRNNTasNet of this configuration?)")
