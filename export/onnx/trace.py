"""Record what a model's ``forward_core`` computes between its quantized layers, at two input lengths.

*Leaves* are the modules whose type has a registered emitter (``registry.registration``): a leaf call is recorded
with its input and output tensors, and its emitter writes it later; what runs inside it is not looked at. Every
other module (the model, its blocks, ``nn.ModuleList``, a new architecture) is traversed: its forward just runs,
and what it does to tensors between leaves is seen by a ``TorchFunctionMode``:

* shape operations (``SHAPE_OPS``: view, reshape, flatten, unsqueeze, squeeze, transpose, permute) are recorded;
* metadata queries (``.shape``, ``.size()``, ``.dim()``...) and ``contiguous`` pass;
* any other torch operation fails loudly, naming the op and the module and function that ran it.

Tensors are followed by identity (``id``), the traced ones kept alive so that no id is reused; a ``QTensor``
stands for its ``.value``. The exported time axis is dynamic while a trace bakes in its length, so the model is
traced at two valid lengths: both traces must run the same operations, and a reshape's target shape may differ
in one dimension, which is written -1. Anything else that follows the length fails loudly.

A recorded shape op is named after the code that ran it, ``<module path>.<function>.<variable>`` (the local
variable holding its input in that function: ``apply_masks.masks``); without such a variable, the lowering names
it after its input tensor (``decoder.out_quant.reshaped``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from fqss_edge.errors import FqssError
from fqss_edge.export.onnx.registry import child, registration
from fqss_edge.quant.qtensor import QTensor

METADATA = frozenset({"shape", "ndim", "dtype", "device", "size", "dim"})
IDENTITY = frozenset({"contiguous"})
_TORCH_DIR = os.path.dirname(torch.__file__)


@dataclass(frozen=True)
class LeafCall:
    module: nn.Module
    inputs: tuple[int, ...]  # tensor tokens (0: the model input)
    params: tuple[tuple[float, int] | None, ...]  # (scale, zero point) each input QTensor carried
    output: int


@dataclass(frozen=True)
class ShapeOp:
    op: str  # ONNX op: Reshape, Unsqueeze, Squeeze, Transpose
    ints: tuple[int, ...]  # Reshape: target shape; Unsqueeze/Squeeze: axes; Transpose: perm
    input: int
    output: int
    name: str | None  # the tensor's name in the graph (None: after its input's)
    where: str  # for messages: the function and module that ran it


Event = LeafCall | ShapeOp


@dataclass(frozen=True)
class Trace:
    events: tuple[Event, ...]
    output: int
    output_shape: tuple[int, ...]


# -- shape operations: torch call -> (ONNX op, ints) -----------------------------------------------------------
def _reshape(x: torch.Tensor, out: torch.Tensor, *_: Any, **__: Any) -> tuple[str, tuple[int, ...]]:
    if out.dtype != x.dtype:
        raise ValueError("a view as another dtype")
    return "Reshape", tuple(out.shape)  # the length-dependent dimension becomes -1 when the two traces meet


def _unsqueeze(x: torch.Tensor, out: torch.Tensor, dim: int) -> tuple[str, tuple[int, ...]]:
    return "Unsqueeze", (dim % out.dim(),)


def _squeeze(x: torch.Tensor, out: torch.Tensor, dim: int | tuple[int, ...] | None = None
             ) -> tuple[str, tuple[int, ...]]:
    if dim is None:
        raise ValueError("squeeze() without dim depends on which sizes are 1: give the dim")
    axes = tuple(sorted(d % x.dim() for d in (dim if isinstance(dim, (tuple, list)) else (dim,))))
    if any(x.shape[d] != 1 for d in axes):
        raise ValueError(f"squeeze of dim {axes} of a tensor of shape {tuple(x.shape)} (not of size 1)")
    return "Squeeze", axes


def _transpose(x: torch.Tensor, out: torch.Tensor, dim0: int, dim1: int) -> tuple[str, tuple[int, ...]]:
    perm = list(range(x.dim()))
    a, b = dim0 % x.dim(), dim1 % x.dim()
    perm[a], perm[b] = b, a
    return "Transpose", tuple(perm)


def _permute(x: torch.Tensor, out: torch.Tensor, *dims: Any) -> tuple[str, tuple[int, ...]]:
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return "Transpose", tuple(d % x.dim() for d in dims)


SHAPE_OPS: dict[str, Callable[..., tuple[str, tuple[int, ...]]]] = {
    "view": _reshape, "reshape": _reshape, "flatten": _reshape, "unsqueeze": _unsqueeze, "squeeze": _squeeze,
    "transpose": _transpose, "permute": _permute}


def _op_name(func: Any) -> str:
    owner = getattr(func, "__self__", None)  # Tensor.shape.__get__: the attribute's descriptor
    if getattr(func, "__name__", "") == "__get__" and owner is not None:
        return getattr(owner, "__name__", "__get__")
    return getattr(func, "__name__", repr(func))


def _model_frame() -> FrameType:
    """The frame of the model code that called the torch operation being recorded."""
    f = sys._getframe(1)
    while f.f_back is not None and (f.f_code.co_filename == __file__ or f.f_code.co_filename.startswith(_TORCH_DIR)):
        f = f.f_back
    return f


class _Recorder(TorchFunctionMode):
    def __init__(self, names: dict[int, str]):
        super().__init__()
        self.names = names  # id(module) -> path
        self.tokens: dict[int, int] = {}  # id(tensor) -> token
        self.alive: list[torch.Tensor] = []  # every traced tensor: ids stay unique while tracing
        self.events: list[Event] = []
        self.depth = 0  # > 0 inside a leaf

    # -- tensors ----------------------------------------------------------------------------------------------
    def new_token(self, t: Any, what: str) -> int:
        t = t.value if isinstance(t, QTensor) else t
        if not isinstance(t, torch.Tensor):
            raise FqssError(f"ONNX export: {what} is a {type(t).__name__}, not a tensor or QTensor")
        self.alive.append(t)
        self.tokens[id(t)] = len(self.alive) - 1
        return len(self.alive) - 1

    def token(self, t: torch.Tensor, what: str) -> int:
        tok = self.tokens.get(id(t))
        if tok is None:
            raise FqssError(f"ONNX export: {what} is not computed from the model input by traced operations "
                            f"(a parameter or buffer, or a tensor made outside the model's layers?)")
        return tok

    def where(self, frame: FrameType) -> tuple[str, str]:
        """(module path, description) of the model code running in ``frame``."""
        f: FrameType | None = frame
        while f is not None and id(f.f_locals.get("self")) not in self.names:
            f = f.f_back
        path = self.names[id(f.f_locals["self"])] if f is not None else ""
        return path, f"{frame.f_code.co_qualname} ({path or 'the model'}, {frame.f_code.co_filename}:{frame.f_lineno})"

    # -- torch operations between leaves ----------------------------------------------------------------------
    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = _op_name(func)
        if self.depth > 0 or name in METADATA:
            return func(*args, **kwargs)
        frame = _model_frame()
        path, where = self.where(frame)
        if name not in SHAPE_OPS and name not in IDENTITY:
            raise FqssError(f"ONNX export: torch operation '{name}' between quantized layers, in {where}, is not "
                            f"supported (supported there: {', '.join(sorted(SHAPE_OPS) + sorted(IDENTITY))}; "
                            f"other computation belongs in a layer with an emitter)")
        x = args[0]
        tok = self.token(x, f"the input of '{name}' in {where}")
        out = func(*args, **kwargs)
        if name in IDENTITY:
            self.alive.append(out)
            self.tokens[id(out)] = tok
            return out
        try:
            op, ints = SHAPE_OPS[name](x, out, *args[1:], **kwargs)
        except (ValueError, TypeError) as e:
            raise FqssError(f"ONNX export: '{name}' in {where} cannot be exported: {e}") from None
        var = next((k for k, v in frame.f_locals.items() if v is x or isinstance(v, QTensor) and v.value is x), None)
        label = child(path, f"{frame.f_code.co_name}.{var}") if var else None
        self.events.append(ShapeOp(op, ints, tok, self.new_token(out, name), label, where))
        return out

    # -- leaves -----------------------------------------------------------------------------------------------
    def pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.depth += 1

    def post_hook(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        if self.depth == 1:  # still inside: the mode lets this code's own torch calls through
            self.events.append(self.leaf_call(module, args, kwargs, out))
        self.depth -= 1

    def leaf_call(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> LeafCall:
        name = self.names[id(module)]
        if kwargs:
            raise FqssError(f"ONNX export: {name} is called with keyword arguments ({', '.join(kwargs)}); "
                            f"emitters take positional inputs")
        tokens, params = [], []
        for k, a in enumerate(args):
            what = f"input {k} of {name} ({type(module).__name__})"
            if not isinstance(a, (torch.Tensor, QTensor)):
                raise FqssError(f"ONNX export: {what} is a {type(a).__name__}, not a tensor or QTensor")
            quantized = isinstance(a, QTensor) and a.scale is not None
            tokens.append(self.token(a.value if isinstance(a, QTensor) else a, what))
            params.append((float(a.scale), int(a.zero_point)) if quantized else None)
        return LeafCall(module, tuple(tokens), tuple(params), self.new_token(out, f"the output of {name}"))


def record(model: nn.Module, length: int) -> Trace:
    """One trace of ``model.forward_core`` on a [1, C, length] input (C: the model's ``audio_channels``; eval mode,
    no gradients)."""
    names = {id(m): n for n, m in model.named_modules()}
    rec = _Recorder(names)
    handles = []
    for m in model.modules():
        if registration(m) is not None:
            handles += [m.register_forward_pre_hook(rec.pre_hook, with_kwargs=True),
                        m.register_forward_hook(rec.post_hook, with_kwargs=True)]
    channels = int(getattr(model, "audio_channels", 1))
    wav = torch.rand(1, channels, length, generator=torch.Generator().manual_seed(0)) - 0.5
    rec.new_token(wav, "the model input")
    try:
        with torch.no_grad(), rec:
            out = model.forward_core(wav)  # type: ignore[operator]
    finally:
        for h in handles:
            h.remove()
    if not isinstance(out, torch.Tensor):
        raise FqssError(f"ONNX export: forward_core returns a {type(out).__name__}, not a tensor [1, n_src, T]")
    shape = tuple(out.shape)
    if len(shape) != 3 or shape[0] != 1 or shape[2] != length:
        raise FqssError(f"ONNX export: forward_core maps [1, {channels}, {length}] to {list(shape)}, not "
                        f"[1, n_src * {channels}, {length}]")
    return Trace(tuple(rec.events), rec.token(out, "the output of forward_core"), shape)


def trace(model: nn.Module) -> Trace:
    """The operations of ``model.forward_core``, traced at two valid lengths, with the time axis left dynamic."""
    if not (hasattr(model, "forward_core") and hasattr(model, "valid_length")):
        raise FqssError(f"ONNX export: {type(model).__name__} has no forward_core / valid_length (the exporter "
                        f"traces forward_core on [1, 1, T] inputs of lengths valid_length(n))")
    valid: Callable[[int], int] = model.valid_length  # type: ignore[assignment]
    t1 = valid(4 * valid(1))
    t2 = valid(t1 + 1)
    a, b = record(model, t1), record(model, t2)
    if len(a.events) != len(b.events) or a.output != b.output:
        first = next((k for k, (x, y) in enumerate(zip(a.events, b.events)) if _skeleton(x) != _skeleton(y)),
                     min(len(a.events), len(b.events)))
        raise FqssError(f"ONNX export: forward_core runs different operations at T={t1} and T={t2} "
                        f"(from operation {first}: {_describe(a.events, first)} vs {_describe(b.events, first)})")
    events = tuple(_merge(x, y, t1, t2) for x, y in zip(a.events, b.events))
    return Trace(events, a.output, a.output_shape[:2] + (-1,))


def _skeleton(e: Event) -> tuple:
    """What both traces must agree on (everything but the shape op's numbers)."""
    if isinstance(e, LeafCall):
        return id(e.module), e.inputs, e.output
    return e.op, len(e.ints), e.input, e.output, e.name


def _describe(events: tuple[Event, ...], k: int) -> str:
    if k >= len(events):
        return "nothing"
    e = events[k]
    return f"{type(e.module).__name__} layer" if isinstance(e, LeafCall) else f"{e.op} in {e.where}"


def _merge(a: Event, b: Event, t1: int, t2: int) -> Event:
    if _skeleton(a) != _skeleton(b):
        raise FqssError(f"ONNX export: forward_core runs different operations at T={t1} and T={t2}: "
                        f"{_describe((a,), 0)} vs {_describe((b,), 0)}")
    if isinstance(a, LeafCall) or a.ints == b.ints:  # type: ignore[union-attr]
        return a
    assert isinstance(b, ShapeOp)
    moving = [k for k, (x, y) in enumerate(zip(a.ints, b.ints)) if x != y]
    if a.op != "Reshape" or len(moving) != 1:
        raise FqssError(f"ONNX export: {a.op} in {a.where} depends on the input length ({list(a.ints)} at T={t1}, "
                        f"{list(b.ints)} at T={t2}); only one dimension of a reshape may follow the length "
                        f"(written -1)")
    return replace(a, ints=tuple(-1 if k == moving[0] else d for k, d in enumerate(a.ints)))
