"""A mixed-precision plan: per layer, weights int4 or int8 and the output activation int8 or int16, chosen greedily
by measured sensitivity per byte within a size budget relative to uniform int8.

Cost (bytes) = weight bytes (b / 8 per weight) + an activation-traffic proxy: the bytes of the layer's output per
millisecond of audio (1 per element at int8, 2 at int16). The proxy prices the extra memory an int16 tensor moves;
it does not price the int16 kernels' speed (TFLite's 16x8 operators run on the reference / optimised kernels, not
XNNPACK), which only a benchmark of the export measures.

Value (dB) = the layer-alone ΔSI-SDR (``sensitivity.layer_alone``): an int16 output is worth
``Δ(w8, a16) - Δ(w8, a8)``, int4 weights cost ``Δ(w8, a8) - Δ(w4, a8)``. From uniform int8: int16 outputs are taken
in order of dB gained per byte while they fit, int4 weights are given up in order of dB lost per byte saved to make
room when the bytes they free cost less than the gain they buy, and, for a budget below 1x, until the plan fits.
Gains below ``MIN_GAIN_DB`` count as none (the measurement's noise on a few utterances).

The plan is the ``quant.plan`` section (YAML): module path -> ``{weight_bits, act_bits}``, listing only the layers
that differ from the uniform ``weight_bits`` / ``act_bits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from fqss_edge.errors import FqssError

MIN_GAIN_DB = 0.01


@dataclass
class LayerCost:
    layer: str
    n_weights: int
    act_per_ms: float  # output elements per millisecond of audio
    act_bits_apply: bool  # False: the output range is fixed by the runtime (the FQSS output byte)
    delta_w8a8: float
    delta_w4a8: float
    delta_w8a16: float | None

    def cost(self, weight_bits: int, act_bits: int) -> float:
        return self.n_weights * weight_bits / 8 + self.act_per_ms * act_bits / 8


def parse_budget(text: str) -> float:
    """``1.1x`` (or ``1.1``) -> 1.1: the plan's cost relative to uniform int8."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*[xX]?\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise FqssError(f"--budget {text!r}: expected a size ratio to uniform int8 such as 1.1x")
    return float(m.group(1))


def total_cost(layers: list[LayerCost], plan: dict[str, dict[str, int]]) -> float:
    return sum(c.cost(plan.get(c.layer, {}).get("weight_bits", 8), plan.get(c.layer, {}).get("act_bits", 8))
               for c in layers)


def choose_plan(layers: list[LayerCost], budget: float) -> dict[str, dict[str, int]]:
    """layer -> {"weight_bits", "act_bits"} for the layers that differ from int8 / int8, within ``budget`` x the
    uniform int8 cost. ``FqssError`` if even int4 weights everywhere do not fit."""
    limit = budget * total_cost(layers, {})
    bits = {c.layer: [8, 8] for c in layers}
    by_name = {c.layer: c for c in layers}
    # int4 candidates: cheapest dB lost per byte saved first
    int4 = sorted(layers, key=lambda c: max(c.delta_w8a8 - c.delta_w4a8, 0.0) / (c.n_weights / 2))
    int16 = sorted((c for c in layers if c.act_bits_apply and c.delta_w8a16 is not None
                    and c.delta_w8a16 - c.delta_w8a8 >= MIN_GAIN_DB and c.act_per_ms > 0),
                   key=lambda c: -(c.delta_w8a16 - c.delta_w8a8) / (c.act_per_ms / 8))

    def cost() -> float:
        return sum(by_name[n].cost(*b) for n, b in bits.items())

    def lost(c: LayerCost) -> float:
        return max(c.delta_w8a8 - c.delta_w4a8, 0.0)

    while cost() > limit and (nxt := next((c for c in int4 if bits[c.layer][0] == 8), None)) is not None:
        bits[nxt.layer][0] = 4
    if cost() > limit:
        raise FqssError(f"budget {budget:g}x: even int4 weights everywhere cost {cost() / total_cost(layers, {}):.3f}x")
    for c in int16:
        gain, extra = c.delta_w8a16 - c.delta_w8a8, c.act_per_ms / 8
        freed, given, spent = 0.0, [], 0.0
        for d in int4:
            if cost() + extra - freed <= limit:
                break
            if bits[d.layer][0] == 8:
                given.append(d)
                freed += d.n_weights / 2
                spent += lost(d)
        if cost() + extra - freed <= limit and spent < gain:
            bits[c.layer][1] = 16
            for d in given:
                bits[d.layer][0] = 4
    return {n: {"weight_bits": w, "act_bits": a} for n, (w, a) in bits.items() if (w, a) != (8, 8)}


def plan_yaml(plan: dict[str, dict[str, int]], comment: str = "") -> str:
    """The ``quant:`` section holding the plan (merge it into a run config's ``quant`` section)."""
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + yaml.safe_dump({"quant": {"plan": plan}}, sort_keys=False)
