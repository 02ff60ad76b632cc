"""Read Conv-TasNet state dicts in asteroid's naming (what the FQSS reference and asteroid recipes save).

asteroid: ``encoder.filterbank._filters``, ``masker.bottleneck.{0,1}``, ``masker.TCN.{i}.shared_block.{0..5}``,
``res_conv``, ``skip_conv``, ``masker.mask_net.{0,1}``, ``decoder.filterbank._filters``. The architecture is the
same (free filterbank encoder/decoder without bias, gLN, single-slope PReLU), so the mapping is one to one.
"""

from __future__ import annotations

import re

import torch

_BLOCK = {"0": "in_conv.conv", "1": "act1", "2": "norm1", "3": "dw_conv.conv", "4": "act2", "5": "norm2"}
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^encoder\.filterbank\._filters$"), "encoder.conv.weight"),
    (re.compile(r"^decoder\.filterbank\._filters$"), "decoder.conv.weight"),
    (re.compile(r"^masker\.bottleneck\.0\.(gamma|beta)$"), r"masker.norm.\1"),
    (re.compile(r"^masker\.bottleneck\.1\.(weight|bias)$"), r"masker.bottleneck.conv.\1"),
    (re.compile(r"^masker\.TCN\.(\d+)\.(res_conv|skip_conv)\.(weight|bias)$"), r"masker.blocks.\1.\2.conv.\3"),
    (re.compile(r"^masker\.mask_net\.0\.weight$"), "masker.out_act.weight"),
    (re.compile(r"^masker\.mask_net\.1\.(weight|bias)$"), r"masker.mask_conv.conv.\1"),
]
_SHARED = re.compile(r"^masker\.TCN\.(\d+)\.shared_block\.([0-5])\.(\w+)$")


def is_asteroid_state(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith("masker.TCN.") for k in state)


def _rename(key: str) -> str | None:
    m = _SHARED.match(key)
    if m:
        return f"masker.blocks.{m.group(1)}.{_BLOCK[m.group(2)]}.{m.group(3)}"
    for pattern, repl in _RULES:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return None


def from_asteroid(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename to fqss-edge keys; PReLU slopes [1] become scalars; keys with no counterpart raise KeyError."""
    out = {}
    for key, value in state.items():
        new = _rename(key)
        if new is None:
            raise KeyError(f"unexpected tensor {key} in an asteroid Conv-TasNet state dict")
        if new.endswith(("act1.weight", "act2.weight", "out_act.weight")):
            if value.numel() != 1:
                raise KeyError(f"{key}: per-channel PReLU ({value.numel()} slopes); fqss-edge uses one shared slope")
            value = value.reshape(())
        if new.endswith(("gamma", "beta")):
            value = value.reshape(-1)
        out[new] = value
    return out
