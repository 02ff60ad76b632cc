"""Load asteroid's ``DPRNNTasNet`` and ``DPTNet`` state dicts into ``DPRNN`` / ``DPTNet`` by key mapping.

DPRNN: ``encoder.filterbank._filters``, ``masker.bottleneck.{0: gLN, 1: Conv1d}``,
``masker.net.{i}.{intra,inter}_RNN.rnn.*`` (``nn.LSTM``), ``{intra,inter}_linear`` (``nn.Linear``: our 1x1 conv,
one trailing axis), ``{intra,inter}_norm``, ``masker.first_out.{0: PReLU, 1: Conv2d 1x1}`` (our 1x1 Conv1d),
``masker.net_out.0``, ``masker.net_gate.0``, ``masker.mask_net``, ``decoder.filterbank._filters``.

DPTNet: ``masker.in_norm``, ``masker.layers.{i}.{0: intra, 1: inter}.{mha, recurrent, linear, norm_mha,
norm_ff}``: ``nn.MultiheadAttention``'s ``in_proj`` splits into our query / key / value projections (the query
scaled by 1/sqrt(d_k), which our attention folds into it), ``out_proj`` is ours; ``first_out``, and ``net_out`` /
``net_gate`` with their weights halved (asteroid's overlap-add divides by 2, ours does not).

Every asteroid tensor has exactly one place; anything else is a one-line ``FqssError`` naming the source.
"""

from __future__ import annotations

import re

import torch

from fqss_edge.errors import FqssError
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.key_mapping import copy_pieces, split_in_proj

_COMMON: list[tuple[str, str]] = [
    (r"^encoder\.filterbank\._filters$", "encoder.conv.weight"),
    (r"^decoder\.filterbank\._filters$", "decoder.conv.weight"),
    (r"^masker\.first_out\.0\.weight$", "masker.prelu.weight"),
    (r"^masker\.first_out\.1\.(weight|bias)$", r"masker.first_out.conv.\1"),
    (r"^masker\.(net_out|net_gate)\.0\.(weight|bias)$", r"masker.\1.conv.\2"),
]
_LSTM = r"((?:weight|bias)_(?:ih|hh)_l0(?:_reverse)?)"
_DPRNN = [(re.compile(p), r) for p, r in _COMMON + [
    (r"^masker\.bottleneck\.0\.(gamma|beta)$", r"masker.norm.\1"),
    (r"^masker\.bottleneck\.1\.(weight|bias)$", r"masker.bottleneck.conv.\1"),
    (rf"^masker\.net\.(\d+)\.(intra|inter)_RNN\.rnn\.{_LSTM}$", r"masker.blocks.\1.\2.rnn.lstm.\3"),
    (r"^masker\.net\.(\d+)\.(intra|inter)_linear\.(weight|bias)$", r"masker.blocks.\1.\2.linear.conv.\3"),
    (r"^masker\.net\.(\d+)\.(intra|inter)_norm\.(gamma|beta)$", r"masker.blocks.\1.\2_norm.\3"),
    (r"^masker\.mask_net\.weight$", "masker.mask_net.conv.weight"),
]]
_LAYER = r"^masker\.layers\.(\d+)\.(?:0(?P<intra>)|1)\."
_DPTNET = [(re.compile(p), r) for p, r in _COMMON + [
    (r"^masker\.in_norm\.(gamma|beta)$", r"masker.norm.\1"),
    (_LAYER + r"mha\.out_proj\.(weight|bias)$", r"masker.blocks.\1.{path}.mha.out_proj.conv.\3"),
    (_LAYER + rf"recurrent\.{_LSTM}$", r"masker.blocks.\1.{path}.ff.rnn.lstm.\3"),
    (_LAYER + r"linear\.(weight|bias)$", r"masker.blocks.\1.{path}.ff.linear.conv.\3"),
    (_LAYER + r"(norm_mha|norm_ff)\.(gamma|beta)$", r"masker.blocks.\1.{path}.\3.\4"),
]]
_IN_PROJ = re.compile(_LAYER + r"mha\.in_proj_(weight|bias)$")


def is_asteroid_dualpath_state(state: dict[str, torch.Tensor]) -> str | None:
    """``"dprnn"`` / ``"dptnet"`` for an asteroid DPRNNTasNet / DPTNet state dict, else None."""
    if any(k.startswith("masker.net.") and "_RNN.rnn." in k for k in state):
        return "dprnn"
    if any(k.startswith("masker.layers.") and ".mha.in_proj_weight" in k for k in state):
        return "dptnet"
    return None


def _renamed(rules: list[tuple[re.Pattern[str], str]], key: str) -> str | None:
    for pattern, repl in rules:
        m = pattern.match(key)
        if m:
            path = "intra" if m.groupdict().get("intra") is not None else "inter"
            return m.expand(repl.replace("{path}", path))
    return None


def _dptnet_pieces(key: str, value: torch.Tensor, n_heads: int) -> dict[str, torch.Tensor] | None:
    """Our tensors for one asteroid DPTNet tensor (None: not a DPTNet key)."""
    m = _IN_PROJ.match(key)
    if m:
        path = "intra" if m.group("intra") is not None else "inter"
        q, k, v = split_in_proj(value, n_heads)
        prefix = f"masker.blocks.{m.group(1)}.{path}.mha"
        return {f"{prefix}.{p}_proj.conv.{m.group(3)}": t for p, t in zip("qkv", (q, k, v))}
    new = _renamed(_DPTNET, key)
    if new is None:
        return None
    if new in ("masker.net_out.conv.weight", "masker.net_gate.conv.weight"):
        value = value / 2  # asteroid's overlap-add halves its sum: exact in float
    return {new: value}


def from_asteroid_dualpath(model: SeparationModel, state: dict[str, torch.Tensor],
                           source: str = "asteroid state dict") -> None:
    """Copy an asteroid ``DPRNNTasNet`` / ``DPTNet`` state dict into ``model`` (the same architecture and
    hyper-parameters); raises ``FqssError`` naming ``source`` and the first unexpected, missing or misshapen
    tensor."""
    arch = is_asteroid_dualpath_state(state)
    if arch != model.config.name:
        raise FqssError(f"{source}: an asteroid {'DPRNNTasNet' if arch == 'dprnn' else 'DPTNet'} state dict, but "
                        f"the model config builds {model.config.name}")
    if arch == "dprnn":
        items = ((k, v, None if (new := _renamed(_DPRNN, k)) is None else {new: v}) for k, v in state.items())
    else:
        items = ((k, v, _dptnet_pieces(k, v, model.config.n_heads)) for k, v in state.items())
    copy_pieces(model, items, source, arch)
