"""Per-tensor SQNR of the quantized model against its float twin, along the network.

Forward hooks on every activation quantizer record the tensor it returns: in the float twin (quantizers off) the
float value at that point, in the quantized model the dequantized one. SQNR = 10 log10(sum |f|^2 / sum |f - q|^2)
pooled over the utterances, for each tensor both runs produce (the residual output block's tensors exist only in the
quantized model; a quantizer called twice, as the shared decoder's, is compared call by call)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from fqss_edge.analysis.data import Utterance, separate
from fqss_edge.analysis.switches import quantized_only
from fqss_edge.models.base import SeparationModel
from fqss_edge.quant.quantizers import ACTIVATION_QUANTIZERS


@contextmanager
def recorded(model: SeparationModel, on_tensor: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Call ``on_tensor(key, value)`` for every activation quantizer output (key: ``path`` or ``path#k`` for the
    k-th call of the same quantizer in one forward)."""
    calls: dict[str, int] = {}

    def hook(name: str):  # noqa: ANN202
        def fn(_m, _inp, out) -> None:  # noqa: ANN001
            k = calls.get(name, 0)
            calls[name] = k + 1
            on_tensor(name if k == 0 else f"{name}#{k}", out.value.detach())
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, ACTIVATION_QUANTIZERS)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
    calls.clear()


def _db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-30) / noise)


def tensor_sqnr(model: SeparationModel, utts: list[Utterance], quantized: list[str] | None = None,
                on_utterance: Callable[[], None] | None = None) -> list[dict]:
    """``[{"tensor", "sqnr_db", "numel"}]`` in the order the quantized model computes them, plus ``"output"`` (the
    separated sources). ``quantized``: the layers quantized (None: the model as loaded)."""
    order: list[str] = []
    power: dict[str, list[float]] = {}
    numel: dict[str, int] = {}
    for mix, _, _ in utts:
        ref: dict[str, torch.Tensor] = {}

        def keep(key: str, v: torch.Tensor) -> None:
            ref[key] = v  # float32: a whole utterance's tensors are held until compared

        def compare(key: str, v: torch.Tensor) -> None:
            if key not in ref or ref[key].shape != v.shape:
                return
            if key not in power:
                order.append(key)
                power[key] = [0.0, 0.0]
            f = ref.pop(key).double()
            power[key][0] += float(f.pow(2).sum())
            power[key][1] += float((f - v.double()).pow(2).sum())
            numel[key] = v.numel()

        with quantized_only(model, []), recorded(model, keep):
            ref["output"] = separate(model, mix)
        with quantized_only(model, quantized), recorded(model, compare):
            compare("output", separate(model, mix))
        if on_utterance is not None:
            on_utterance()
    return [{"tensor": k, "sqnr_db": _db(*power[k]), "numel": numel[k]} for k in order]
