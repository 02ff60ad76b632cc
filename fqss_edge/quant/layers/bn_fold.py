"""BatchNorm1d folded into one side of a convolution: a normalisation that costs nothing at run time.

``FoldedBatchNorm(channels, side)`` belongs to one ``QConv1d`` (its ``fold_bn`` argument) and normalises that
conv's output (``side="out"``) or its input (``side="in"``). With the running statistics it is a per-channel affine
map ``a * z + c`` (``a = gamma / sqrt(var + eps)``, ``c = beta - a * mean``), and an affine map next to a
convolution is absorbed into the convolution's weights and bias exactly:

    out side:  BN(W * x + b)  = (a W) * x + (a b + c)                      any conv
    in side:   W * BN(x) + b  = (W a) * x + (b + sum_{c,k} W[o, c, k] c_c)  groups 1, no padding (a padded tap is
                                                                            0, not BN's c)

The conv then applies, quantizes (per output channel) and exports the folded weights and bias only: there is no
normalisation op in the simulation, the ONNX graph or the .tflite. Float training (quantizers disabled, training
mode) runs the BatchNorm itself on batch statistics and updates the running averages; everything else (float
eval, the FQSS float teacher, PTQ calibration, quantized training and eval) uses the running statistics, frozen,
through the fold, so gradients reach the conv weights and gamma / beta through ``a`` and ``c``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

FoldSide = Literal["in", "out"]


class FoldedBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over ``channels`` on the ``side`` of the conv that owns it (see the module docstring)."""

    def __init__(self, channels: int, side: FoldSide):
        if side not in ("in", "out"):
            raise ValueError(f"a folded BatchNorm sits on the conv's 'in' or 'out' side, not {side!r}")
        super().__init__(channels)
        self.side = side

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, side={self.side}"

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, c) per channel: the frozen BatchNorm is ``a * z + c``."""
        a = self.weight / torch.sqrt(self.running_var + self.eps)
        return a, self.bias - a * self.running_mean

    def fold(self, w: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The weights [out, in, k] and bias [out] of a Conv1d with this BatchNorm folded in."""
        a, c = self.scale_shift()
        if self.side == "out":
            return w * a.view(-1, 1, 1), c if b is None else a * b + c
        shift = (w * c.view(1, -1, 1)).sum(dim=(1, 2))
        return w * a.view(1, -1, 1), shift if b is None else b + shift


def check_foldable(bn: FoldedBatchNorm, conv: nn.Module) -> None:
    """Refuse a BatchNorm the fold cannot absorb exactly into ``conv`` (an ``nn.Conv1d``)."""
    if not isinstance(conv, nn.Conv1d):
        raise ValueError(f"a BatchNorm folds into a Conv1d, not a {type(conv).__name__}")
    channels = conv.out_channels if bn.side == "out" else conv.in_channels
    if bn.num_features != channels:
        raise ValueError(f"a BatchNorm on the conv's {bn.side} side needs {channels} channels, not {bn.num_features}")
    if bn.side == "in" and (conv.groups != 1 or conv.padding[0] != 0):
        raise ValueError("a BatchNorm folds into a conv's input side only with groups 1 and no padding "
                         f"(groups {conv.groups}, padding {conv.padding[0]})")
