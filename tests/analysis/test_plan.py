"""fqss_edge.analysis.plan: the greedy mixed-precision plan meets its budget and is the fixed ``quant.plan`` YAML."""

from __future__ import annotations

import pytest
import yaml

from fqss_edge.analysis.plan import LayerCost, choose_plan, parse_budget, plan_yaml, total_cost
from fqss_edge.errors import FqssError


def layers() -> list[LayerCost]:
    # (name, weights, output elements per ms, act bits apply, Δ(w8,a8), Δ(w4,a8), Δ(w8,a16)) in dB
    return [LayerCost("encoder", 1024, 64.0, True, -0.30, -2.00, -0.01),  # int16 output: +0.29 dB for 8 B
            LayerCost("masker.a", 8192, 32.0, True, -0.01, -0.02, -0.01),  # int4 nearly free: frees 4096 B
            LayerCost("masker.b", 8192, 32.0, True, -0.05, -0.90, -0.049),  # int16 gains nothing measurable
            LayerCost("decoder", 1024, 16.0, False, -0.20, -1.50, None)]  # fixed output byte: no int16


@pytest.mark.parametrize("budget", [1.0, 1.1, 0.8, 0.6])
def test_plan_meets_its_budget(budget):
    ls = layers()
    plan = choose_plan(ls, budget)
    assert total_cost(ls, plan) <= budget * total_cost(ls, {}) + 1e-9
    assert "decoder" not in plan or plan["decoder"]["act_bits"] == 8
    assert "masker.b" not in plan or plan["masker.b"]["act_bits"] == 8  # a gain below MIN_GAIN_DB buys nothing


def test_plan_picks_by_sensitivity_per_cost():
    assert choose_plan(layers(), 1.1) == {"encoder": {"weight_bits": 8, "act_bits": 16}}
    # at uniform int8's own cost the int16 encoder output is paid by the cheapest int4 weights (masker.a)
    assert choose_plan(layers(), 1.0) == {"encoder": {"weight_bits": 8, "act_bits": 16},
                                          "masker.a": {"weight_bits": 4, "act_bits": 8}}
    # below 1x weights go to int4 in order of dB lost per byte saved: masker.a, then masker.b
    plan = choose_plan(layers(), 0.6)
    assert plan["masker.a"]["weight_bits"] == plan["masker.b"]["weight_bits"] == 4
    assert plan.get("encoder", {}).get("weight_bits", 8) == 8


def test_impossible_budget_is_an_error():
    with pytest.raises(FqssError, match="even int4 weights everywhere"):
        choose_plan(layers(), 0.3)


def test_plan_yaml_has_the_fixed_format():
    text = plan_yaml(choose_plan(layers(), 1.0), "a comment\non two lines")
    doc = yaml.safe_load(text)
    assert list(doc) == ["quant"] and list(doc["quant"]) == ["plan"]
    for path, bits in doc["quant"]["plan"].items():
        assert set(bits) == {"weight_bits", "act_bits"} and bits["weight_bits"] in (4, 8) and bits["act_bits"] in (8, 16)
        assert (bits["weight_bits"], bits["act_bits"]) != (8, 8), path
    assert text.startswith("# a comment\n# on two lines\n")


@pytest.mark.parametrize("text, value", [("1.1x", 1.1), ("0.9", 0.9), ("2X", 2.0)])
def test_parse_budget(text, value):
    assert parse_budget(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "x", "-1x", "0x", "10ms"])
def test_bad_budget_is_one_line(text):
    with pytest.raises(FqssError, match="expected a size ratio"):
        parse_budget(text)
