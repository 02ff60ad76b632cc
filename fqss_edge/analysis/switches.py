"""Which quantizers of a model are on, and at which bit width: the float twin, one layer alone, a layer at 4 / 16 bits.

The *float twin* of a quantized checkpoint is the same model with every quantizer off (``enabled = False`` on every
module that has the switch: quantizers, the FQSS input splitter, the integer LSTM) and the FQSS residual output
block bypassed (its ``y0 + y1 / 256`` exists only to quantize the output): the network's float computation with the
checkpoint's weights. The input splitter stays: its two bytes are the 16-bit PCM exactly, and the input layer reads
them with the trained weights.

An *analysis layer* is a quantized convolution (``QConv1d`` / ``QConvTranspose1d``: weights per output channel and
an output activation quantizer) outside the residual output block, whose re-encoder belongs to the decoder: the
decoder alone quantized is the decoder with the whole residual output block quantized (the FQSS output).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from torch import nn

from fqss_edge.models.base import SeparationModel
from fqss_edge.quant.layers.conv import QConv1d, QConvTranspose1d
from fqss_edge.quant.quantizers import ActQuantizer, WeightQuantizer
from fqss_edge.quant.ranges import activation_range, weight_range

RESIDUAL = "residual"


def analysis_layers(model: SeparationModel) -> list[tuple[str, QConv1d | QConvTranspose1d]]:
    """(module path, layer) of every quantized convolution, in definition order (the residual block's excluded)."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, (QConv1d, QConvTranspose1d)) and n != RESIDUAL and not n.startswith(RESIDUAL + ".")]


def _switches(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(getattr(m, "enabled", None), bool)]


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@contextlib.contextmanager
def quantized_only(model: SeparationModel, layers: Iterable[str] | None) -> Iterator[SeparationModel]:
    """Within the block only the quantizers under the module paths ``layers`` are on (``[]``: the float twin;
    ``None``: the model as loaded). The residual output block stays when the decoder is quantized."""
    if layers is None:
        yield model
        return
    prefixes = list(layers)
    keep_residual = model.residual is not None and "decoder" in prefixes
    if keep_residual:
        prefixes.append(RESIDUAL)
    saved = [(m, m.enabled) for _, m in _switches(model)]
    residual = model.residual
    try:
        for n, m in _switches(model):
            m.enabled = m.enabled and _under(n, prefixes)
        if not keep_residual:
            model.residual = None
        yield model
    finally:
        for m, on in saved:
            m.enabled = on
        model.residual = residual


def _set_bits(q: nn.Module, bits: int, weight: bool) -> None:
    q.bits = bits
    q.range = weight_range(bits) if weight else activation_range(bits)


@contextlib.contextmanager
def bit_widths(model: SeparationModel, plan: dict[str, dict[str, int]]) -> Iterator[SeparationModel]:
    """Within the block, layer path -> ``{"weight_bits": 4|8, "act_bits": 8|16}`` (either key) holds. An output
    quantizer with a range the runtime fixes (the FQSS output byte) keeps it: ``act_bits`` does not apply there."""
    saved: list[tuple[nn.Module, int, object]] = []
    try:
        for path, bits in plan.items():
            layer = model.get_submodule(path)
            for key, q, weight in (("weight_bits", getattr(layer, "weight_quant", None), True),
                                   ("act_bits", getattr(layer, "out_quant", None), False)):
                if key not in bits:
                    continue
                if not isinstance(q, WeightQuantizer if weight else ActQuantizer):
                    if weight:
                        raise ValueError(f"{path}: no per-channel weight quantizer")
                    continue
                saved.append((q, q.bits, q.range))
                _set_bits(q, int(bits[key]), weight)
        yield model
    finally:
        for q, b, r in reversed(saved):
            q.bits, q.range = b, r


def act_bits_apply(layer: nn.Module) -> bool:
    """The layer's output quantizer has a learned range (not fixed by the runtime): its bit width can change."""
    return isinstance(getattr(layer, "out_quant", None), ActQuantizer)
