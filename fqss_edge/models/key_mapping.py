"""What the state-dict importers share (``asteroid_dualpath.py``, ``import_speechbrain.py``): copying renamed
tensors into a model with one-line errors naming the source's tensor, and ``nn.MultiheadAttention``'s packed
input projection split into our query / key / value projections."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from fqss_edge.errors import FqssError
from fqss_edge.quant.tools import is_quantizer_key, quantizer_prefixes

Pieces = dict[str, torch.Tensor]  # our key -> tensor, for one source tensor


def split_in_proj(value: torch.Tensor, n_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``in_proj_weight`` [3D, D] / ``in_proj_bias`` [3D] -> query, key, value; the query scaled by 1/sqrt(d_k)
    (our attention folds it into the query projection)."""
    q, k, v = value.chunk(3)
    return q / math.sqrt(q.shape[0] / n_heads), k, v


def _core(shape: torch.Size) -> tuple[int, ...]:
    """The shape without unit axes (a Linear weight and a 1x1 convolution's hold the same matrix)."""
    return tuple(d for d in shape if d != 1)


def copy_pieces(model: nn.Module, items: Iterable[tuple[str, torch.Tensor, Pieces | None]], source: str,
                what: str) -> None:
    """Copy each source tensor's pieces (None: the tensor has no place) into ``model``; every network parameter
    must be written. ``what``: the architecture, for messages."""
    ours = model.state_dict()
    # parameters only: the LSTMs' cell-range buffers are calibration state, as the quantizers'
    prefixes = quantizer_prefixes(model)
    wanted = {k for k, _ in model.named_parameters() if not is_quantizer_key(k, prefixes)}
    seen = set()
    for key, value, pieces in items:
        if pieces is None or any(k not in ours for k in pieces):
            raise FqssError(f"{source}: unexpected tensor {key} (not a {what} of this configuration?)")
        for new, v in pieces.items():
            target = ours[new]
            if _core(v.shape) != _core(target.shape):
                raise FqssError(f"{source}: tensor {key} has shape {tuple(value.shape)}, the model needs "
                                f"{tuple(target.shape)} (different hyper-parameters?)")
            with torch.no_grad():
                target.copy_(v.reshape(target.shape))  # Linear / Conv2d 1x1 -> Conv1d 1x1, PReLU [1] -> []
            seen.add(new)
    missing = sorted(wanted - seen)
    if missing:
        raise FqssError(f"{source}: missing tensors {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                        f"(not a {what} of this configuration?)")
