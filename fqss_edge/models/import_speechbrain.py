"""Load SpeechBrain Sepformer state dicts into ``Sepformer`` by key mapping.

SpeechBrain's pretrained Sepformer (``SepformerSeparation``: ``mods.encoder``, ``mods.masknet``,
``mods.decoder``) holds ``encoder.conv1d`` (Conv1d, no bias), ``masknet.*`` (``Dual_Path_Model``) and
``decoder`` (ConvTranspose1d, no bias): one state dict with those prefixes (``mods.`` stripped), e.g. the three
``*.ckpt`` files of a pretrained model merged under their names.

``masknet``: ``norm`` (``GroupNorm(1, N)``: our gLN), ``conv1d``, ``dual_mdl.{i}.{intra,inter}_mdl``
(``SBTransformerBlock``: ``mdl.layers.{j}.{norm1, self_att.att, norm2, pos_ffn.ffn.{0,3}}``, ``mdl.norm``,
``pos_enc.pe``), ``dual_mdl.{i}.{intra,inter}_norm``, ``prelu``, ``conv2d`` (1x1 Conv2d: our 1x1 Conv1d),
``output.0``, ``output_gate.0``, ``end_conv1x1``. ``nn.MultiheadAttention``'s packed ``in_proj`` splits into our
query / key / value projections, the query scaled by 1/sqrt(d_k) (our attention folds it there). The positional
tables (``pos_enc.pe``, buffers) are not weights: each is checked against our sinusoid and needs the config's
``positional_encoding`` to have an encoding at that place (``both`` for SpeechBrain's recipe).

The weights are the same in both of our layouts; ``layout: speechbrain`` reproduces SpeechBrain's output
(``tests/models/test_import_speechbrain.py``), ``layout: fqss`` is the int8 path's (a teacher to fine-tune).
Every SpeechBrain tensor has exactly one place; anything else is a one-line ``FqssError`` naming the source.
"""

from __future__ import annotations

import re

import torch

from fqss_edge.errors import FqssError
from fqss_edge.models.base import SeparationModel
from fqss_edge.models.key_mapping import copy_pieces, split_in_proj
from fqss_edge.quant.layers.attention import sinusoid_table

_PATH = r"^masknet\.dual_mdl\.(\d+)\.(intra|inter)"
_LAYER = _PATH + r"_mdl\.mdl\.layers\.(\d+)\."
_RULES = [(re.compile(p), r) for p, r in [
    (r"^encoder\.conv1d\.weight$", "encoder.conv.weight"),
    (r"^decoder\.weight$", "decoder.conv.weight"),
    (r"^masknet\.norm\.weight$", "masker.norm.gamma"),
    (r"^masknet\.norm\.bias$", "masker.norm.beta"),
    (r"^masknet\.(conv1d|conv2d|end_conv1x1)\.(weight|bias)$", r"masker.\1.conv.\2"),
    (r"^masknet\.(output|output_gate)\.0\.(weight|bias)$", r"masker.\1.conv.\2"),
    (r"^masknet\.prelu\.weight$", "masker.prelu.weight"),
    (_PATH + r"_norm\.weight$", r"masker.blocks.\1.\2_norm.gamma"),
    (_PATH + r"_norm\.bias$", r"masker.blocks.\1.\2_norm.beta"),
    (_PATH + r"_mdl\.mdl\.norm\.norm\.weight$", r"masker.blocks.\1.\2.norm.gamma"),
    (_PATH + r"_mdl\.mdl\.norm\.norm\.bias$", r"masker.blocks.\1.\2.norm.beta"),
    (_LAYER + r"(norm1|norm2)\.norm\.weight$", r"masker.blocks.\1.\2.layers.\3.\4.gamma"),
    (_LAYER + r"(norm1|norm2)\.norm\.bias$", r"masker.blocks.\1.\2.layers.\3.\4.beta"),
    (_LAYER + r"self_att\.att\.out_proj\.(weight|bias)$", r"masker.blocks.\1.\2.layers.\3.attn.out_proj.conv.\4"),
    (_LAYER + r"pos_ffn\.ffn\.0\.(weight|bias)$", r"masker.blocks.\1.\2.layers.\3.ffn.fc1.conv.\4"),
    (_LAYER + r"pos_ffn\.ffn\.3\.(weight|bias)$", r"masker.blocks.\1.\2.layers.\3.ffn.fc2.conv.\4"),
]]
_IN_PROJ = re.compile(_LAYER + r"self_att\.att\.in_proj_(weight|bias)$")
_PE = re.compile(_PATH + r"_mdl\.pos_enc\.pe$")


def is_speechbrain_sepformer_state(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith("masknet.dual_mdl.") for k in strip_mods(state))


def strip_mods(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``mods.encoder.*`` (a ``SepformerSeparation``'s modules) -> ``encoder.*``."""
    if all(k.startswith("mods.") for k in state):
        return {k.removeprefix("mods."): v for k, v in state.items()}
    return state


def _pieces(key: str, value: torch.Tensor, n_heads: int) -> dict[str, torch.Tensor] | None:
    """Our tensors for one SpeechBrain tensor (None: not a Sepformer key)."""
    m = _IN_PROJ.match(key)
    if m:
        q, k, v = split_in_proj(value, n_heads)
        prefix = f"masker.blocks.{m.group(1)}.{m.group(2)}.layers.{m.group(3)}.attn"
        return {f"{prefix}.{p}_proj.conv.{m.group(4)}": t for p, t in zip("qkv", (q, k, v))}
    for pattern, repl in _RULES:
        m = pattern.match(key)
        if m:
            return {m.expand(repl): value}
    return None


def _check_table(model: SeparationModel, key: str, value: torch.Tensor, source: str) -> None:
    """A ``pos_enc.pe`` buffer: our model has an encoding there, and SpeechBrain's table is our sinusoid."""
    m = _PE.match(key)
    assert m is not None
    blocks = model.masker.blocks
    block = int(m.group(1))
    pos_enc = getattr(blocks[block], m.group(2)).pos_enc if block < len(blocks) else None
    if pos_enc is None:
        raise FqssError(f"{source}: tensor {key} is a positional encoding the model config has not "
                        f"(positional_encoding: {model.config.positional_encoding}; SpeechBrain's recipe: both)")
    want = sinusoid_table(value.shape[-1], value.shape[-2]).t().unsqueeze(0)
    if value.shape != want.shape or (value - want).abs().max() > 1e-5:
        raise FqssError(f"{source}: tensor {key} of shape {tuple(value.shape)} is not SpeechBrain's sinusoidal "
                        "positional encoding")


def from_speechbrain(model: SeparationModel, state: dict[str, torch.Tensor],
                     source: str = "SpeechBrain state dict") -> None:
    """Copy a SpeechBrain Sepformer state dict (``encoder.*``, ``masknet.*``, ``decoder.*``) into ``model`` (a
    Sepformer of the same hyper-parameters); raises ``FqssError`` naming ``source`` and the first unexpected,
    missing or misshapen tensor."""
    state = strip_mods(state)
    if model.config.name != "sepformer":
        raise FqssError(f"{source}: a SpeechBrain Sepformer state dict, but the model config builds "
                        f"{model.config.name}")
    pos_encs = [k for k in state if _PE.match(k)]
    for key in pos_encs:
        _check_table(model, key, state[key], source)
    copy_pieces(model, ((k, v, _pieces(k, v, model.config.n_heads)) for k, v in state.items() if k not in pos_encs),
                source, "Sepformer")
    expected = sum(m.pos_enc is not None for block in model.masker.blocks for m in (block.intra, block.inter))
    if len(pos_encs) != expected:
        raise FqssError(f"{source}: {len(pos_encs)} positional encodings (pos_enc.pe), the model config has "
                        f"{expected} (positional_encoding: {model.config.positional_encoding})")
