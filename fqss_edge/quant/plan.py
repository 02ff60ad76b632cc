"""A mixed-precision plan (``quant.plan``) applied to a built model: some layers get other bit widths.

The plan maps a module path (as in ``model.named_modules()``) to ``weight_bits`` (4 or 8) and / or ``act_bits``
(8 or 16, the layer's OUTPUT activation quantizer). The model is built with the uniform ``QuantSpec`` first; then
each planned layer's ``weight_quant`` / ``out_quant`` is replaced by a quantizer of the planned width with the same
settings (channels, axis, calibration, ``nonneg``, ``tracking``). So a model is still written once: its layers
take quantizers as arguments, and nothing in a model's code knows about plans.

A path that names no module, or a module without a learned quantizer of that kind (a fixed-scale output such as
the FQSS decoder's 1/128, a quantizer another one is tied to), is one ``FqssError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from fqss_edge.errors import FqssError
from fqss_edge.quant.quantizers import ActQuantizer, TiedQuantizer, WeightQuantizer


def _plannable(model: nn.Module, kind: str) -> list[str]:
    want = WeightQuantizer if kind == "weight_quant" else ActQuantizer
    return [n for n, m in model.named_modules() if isinstance(getattr(m, kind, None), want)]


def _tied_to(model: nn.Module, q: nn.Module) -> bool:
    return any(isinstance(m, TiedQuantizer) and m.tied is q for m in model.modules())


def _fail(source: str, path: str, why: str, model: nn.Module, kind: str) -> FqssError:
    names = _plannable(model, kind)
    shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
    return FqssError(f"{source}: quant.plan.{path}: {why} (layers with a learned "
                     f"{'weight' if kind == 'weight_quant' else 'output'} quantizer: {shown or 'none'})")


def _new_weight(old: WeightQuantizer, bits: int) -> WeightQuantizer:
    return WeightQuantizer(old.max_abs.numel(), bits, old.axis, old.enabled)


def _new_act(old: ActQuantizer, bits: int) -> ActQuantizer:
    return ActQuantizer(bits, old.calib_batches, old.ema_alpha, old.enabled, old.nonneg, old.tracking, old.symmetric)


def apply_plan(model: nn.Module, plan: Mapping[str, Any], source: str = "config") -> nn.Module:
    """Give the planned layers of ``model`` their bit widths (in place; returns ``model``). ``plan`` values have
    ``weight_bits`` / ``act_bits`` attributes (``config.LayerBits``), None meaning the uniform setting."""
    modules = dict(model.named_modules())
    for path, bits in plan.items():
        layer = modules.get(path)
        if layer is None or path == "":
            close = [n for n in modules if n and (n.endswith(path) or path.endswith(n))][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise _fail(source, path, f"no such module in {type(model).__name__}{hint}", model, "out_quant")
        for kind, width, want, make in (("weight_quant", bits.weight_bits, WeightQuantizer, _new_weight),
                                        ("out_quant", bits.act_bits, ActQuantizer, _new_act)):
            if width is None:
                continue
            old = getattr(layer, kind, None)
            if not isinstance(old, want):
                what = "weight" if kind == "weight_quant" else "output"
                got = "none" if old is None else f"a {type(old).__name__}, not a learned one"
                raise _fail(source, path, f"{type(layer).__name__} has no learned {what} quantizer ({got})",
                            model, kind)
            if _tied_to(model, old):
                raise _fail(source, path, "its output quantizer is shared (tied) with another quantizer", model, kind)
            if old.bits != width:
                setattr(layer, kind, make(old, width))
    return model
