"""Mixed-precision plans (``quant.plan``): typed config, the model built with them, errors naming the layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fqss_edge.config import RunConfig, dump_config, load_config, merge_plan_file, parse_config
from fqss_edge.errors import FqssError
from fqss_edge.models import ARCHITECTURES
from fqss_edge.models.factory import build_model
from fqss_edge.parity.synthetic import FQSS_QUANT, smoke_model
from fqss_edge.quant.quantizers import ActQuantizer, WeightQuantizer


def _first(model, kind: str, cls: type, other_than: str = "") -> str:
    """The first layer with a ``cls`` as ``kind`` (not an LSTM's weights: TFLite's integer LSTM is int8 only)."""
    return next(n for n, m in model.named_modules()
                if isinstance(getattr(m, kind, None), cls) and n != other_than and "lstm" not in n)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_plan_sets_the_named_layers_bits_and_no_other(arch):
    base = build_model(smoke_model(arch), FQSS_QUANT)
    w_layer = _first(base, "weight_quant", WeightQuantizer)
    a_layer = _first(base, "out_quant", ActQuantizer, other_than=w_layer)
    plan = {w_layer: {"weight_bits": 4}, a_layer: {"act_bits": 16}}
    model = build_model(smoke_model(arch), {**FQSS_QUANT, "plan": plan})
    mods = dict(model.named_modules())
    assert mods[w_layer].weight_quant.bits == 4 and mods[w_layer].weight_quant.axis == base.get_submodule(
        w_layer).weight_quant.axis
    assert mods[a_layer].out_quant.bits == 16
    old = base.get_submodule(a_layer).out_quant
    assert (mods[a_layer].out_quant.nonneg, mods[a_layer].out_quant.tracking) == (old.nonneg, old.tracking)
    changed = {n for n, m in model.named_modules() for kind in ("weight_quant", "out_quant")
               if isinstance(getattr(m, kind, None), (ActQuantizer, WeightQuantizer))
               and getattr(m, kind).bits != getattr(base.get_submodule(n), kind).bits}
    assert changed == {w_layer, a_layer}
    # same state-dict layout: a uniform checkpoint's tensors load into the planned model
    model.load_state_dict(base.state_dict())


def test_planned_model_quantizes_on_its_grid():
    plan = {"masker.blocks.0.in_conv": {"weight_bits": 4}, "masker.mask_conv": {"act_bits": 16}}
    model = build_model(smoke_model("convtasnet"), {**FQSS_QUANT, "plan": plan})
    conv = model.masker.blocks[0].in_conv
    conv.init_quant_ranges()
    codes, _ = conv.weight_quant.export(conv.conv.weight)
    assert codes.abs().max() <= 7 and codes.abs().max() == 7  # int4 grid [-7, 7], the range used
    assert model.masker.mask_conv.out_quant.range.qmax == 32767


def test_plan_round_trips_through_the_config():
    cfg = RunConfig().updated(quant={"plan": {"decoder": {"weight_bits": 4}}})
    again = parse_config(dump_config(cfg))
    assert again == cfg and again.quant.plan["decoder"].weight_bits == 4 and again.quant.plan["decoder"].act_bits \
        is None


@pytest.mark.parametrize("plan, expected", [
    ({"masker.nope": {"act_bits": 16}}, "quant.plan.masker.nope: no such module in ConvTasNet"),
    ({"decoder": {"act_bits": 16}}, "quant.plan.decoder: QConvTranspose1d has no learned output quantizer "
                                    "(a FixedQuantizer, not a learned one)"),
    ({"masker.out_act": {"weight_bits": 4}}, "quant.plan.masker.out_act: QPReLU has no learned weight quantizer "
                                             "(none)"),
    ({"masker.out_act": {}}, "quant.plan.masker.out_act: names neither weight_bits nor act_bits"),
    ({"masker.out_act": {"act_bitz": 16}}, "unknown key 'quant.plan.masker.out_act.act_bitz'"),
    ({"masker.out_act": {"act_bits": 4}}, "quant.plan.masker.out_act.act_bits: input should be 8 or 16"),
    ({"masker.out_act": {"weight_bits": 16}}, "quant.plan.masker.out_act.weight_bits: input should be 4 or 8"),
])
def test_bad_plan_is_one_line_naming_the_file_and_layer(tmp_path: Path, plan, expected):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"model": smoke_model("convtasnet"), "quant": {"plan": plan}}))
    with pytest.raises(FqssError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_plan_file_merges_into_the_recipe(tmp_path: Path):
    cfg = parse_config({"model": smoke_model("convtasnet"), "quant": {"weight_bits": 8, "calib_batches": 3}})
    plan = tmp_path / "plan.yaml"
    plan.write_text("quant:\n  plan:\n    masker.mask_conv: {act_bits: 16}\n")
    merged = merge_plan_file(cfg, plan)
    assert merged.quant.plan["masker.mask_conv"].act_bits == 16 and merged.quant.calib_batches == 3
    assert merged.model == cfg.model
    for text, expected in (("train: {epochs: 1}\n", "a plan file holds one section, 'quant'"),
                           ("quant:\n  plan:\n    masker.x: {act_bits: 16}\n", "quant.plan.masker.x: no such module")):
        plan.write_text(text)
        with pytest.raises(FqssError, match=f"^{plan}: .*{expected.replace('.', '[.]')}"):
            merge_plan_file(cfg, plan)
