"""The PyTorch reference: the fake-quant simulation (``model.forward_core`` in eval mode) of a checkpoint."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from fqss_edge.errors import FqssError
from fqss_edge.quant.layers import InputSplitter
from fqss_edge.quant.quantizers import ACTIVATION_QUANTIZERS, WeightQuantizer
from fqss_edge.runtimes.base import IoContract, pad_to_contract

if TYPE_CHECKING:
    from fqss_edge.config import RunConfig

QUANTIZERS = (*ACTIVATION_QUANTIZERS, WeightQuantizer)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` PyTorch threads (``None``: unchanged). Small models run fastest on one thread,
    and a busy machine slows PyTorch's thread pool down a lot."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def is_quantized(model: nn.Module) -> bool:
    return bool(getattr(model, "quantized", False))  # SeparationModel.quantized


def without_quantization(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every quantizer disabled: the float network the ``--float`` export writes."""
    m = copy.deepcopy(model)
    for q in m.modules():
        if isinstance(q, QUANTIZERS):
            q.enabled = False
    return m.eval()


class TorchBackend:
    """``quantized=False`` runs a quantized checkpoint as its float network (quantizers disabled)."""

    def __init__(self, quantized: bool | None = None, threads: int | None = 1,
                 config: "RunConfig | None" = None):
        self.quantized = quantized
        self.threads = threads
        self.config = config
        self.model: nn.Module | None = None
        self._contract: IoContract | None = None

    @property
    def name(self) -> str:
        return "pytorch" if self.quantized is not False else "pytorch-float"

    def load(self, path: str | Path) -> "TorchBackend":
        from fqss_edge.models.io import load_model

        loaded = load_model(path, self.config)
        self.path, self.fingerprint = Path(path), loaded.fingerprint
        return self._set_model(loaded.model, loaded.config)

    @classmethod
    def from_model(cls, model: nn.Module, config: "RunConfig | None" = None,
                   quantized: bool | None = None) -> "TorchBackend":
        return cls(quantized, config=config)._set_model(model, config)

    def _set_model(self, model: nn.Module, config: "RunConfig | None") -> "TorchBackend":
        if self.quantized is None:
            self.quantized = is_quantized(model)
        elif self.quantized and not is_quantized(model):
            raise FqssError("the PyTorch model is a float model: it has no quantized simulation")
        self.model = model.eval() if self.quantized or not is_quantized(model) else without_quantization(model)
        self.config = config
        self._contract = model.io_contract(bool(self.quantized))
        return self

    @property
    def io_contract(self) -> IoContract:
        if self._contract is None:
            raise FqssError("backend not loaded: call load(path) first")
        return self._contract

    @torch.no_grad()
    def run(self, waveform: np.ndarray) -> np.ndarray:
        x = pad_to_contract(waveform, self.io_contract)
        with torch_threads(self.threads):
            y = self.model.forward_core(torch.from_numpy(x))  # type: ignore[union-attr]
        return y[0, :, : np.asarray(waveform).shape[-1]].numpy().astype(np.float32)

    @torch.no_grad()
    def intermediates(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """Integer codes of every quantized tensor, keyed by the quantizer's module path (execution order)."""
        out: dict[str, np.ndarray] = {}
        hooks = []
        for name, mod in self.model.named_modules():  # type: ignore[union-attr]
            if isinstance(mod, (*ACTIVATION_QUANTIZERS, InputSplitter)):
                hooks.append(mod.register_forward_hook(_recorder(name, out)))
            child = getattr(mod, "overrides_quantizer", None)  # QPReLU: TFLite's codes replace its quantizer's
            if child is not None:
                hooks.append(mod.register_forward_hook(_recorder(f"{name}.{child}" if name else child, out)))
        try:
            self.run(waveform)
        finally:
            for h in hooks:
                h.remove()
        return out


def _recorder(name: str, out: dict[str, np.ndarray]) -> Any:
    def hook(_mod: nn.Module, _inp: Any, y: Any) -> None:
        if getattr(y, "scale", None) is not None:
            out[name] = y.int_repr().numpy()

    return hook
