"""fqss_edge.analysis.switches and sqnr: the float twin, one layer alone quantized, bit widths changed for a block."""

from __future__ import annotations

import math

import torch

from fqss_edge.analysis.data import separate
from fqss_edge.analysis.sqnr import tensor_sqnr
from fqss_edge.analysis.switches import bit_widths, quantized_only
from fqss_edge.quant.quantizers import ActQuantizer


def enabled(model) -> list[bool]:
    return [m.enabled for m in model.modules() if isinstance(getattr(m, "enabled", None), bool)]


def test_float_twin_is_the_float_network_and_everything_is_restored(convtasnet, utts):
    mix = utts[0][0]
    before, quantized = enabled(convtasnet), separate(convtasnet, mix)
    with quantized_only(convtasnet, []):
        assert not any(m.enabled for m in convtasnet.modules() if isinstance(m, ActQuantizer))
        assert convtasnet.residual is None
        twin = separate(convtasnet, mix)
    assert enabled(convtasnet) == before and convtasnet.residual is not None
    assert torch.equal(separate(convtasnet, mix), quantized) and not torch.equal(twin, quantized)


def test_layer_alone_leaves_the_tensors_before_it_exact(convtasnet, utts):
    rows = {r["tensor"]: r["sqnr_db"] for r in tensor_sqnr(convtasnet, utts, ["masker.bottleneck"])}
    assert math.isinf(rows["encoder.out_quant"]) and math.isinf(rows["masker.norm.out_quant"])
    assert math.isfinite(rows["masker.bottleneck.out_quant"]) and math.isfinite(rows["output"])
    full = {r["tensor"]: r["sqnr_db"] for r in tensor_sqnr(convtasnet, utts)}
    assert math.isfinite(full["encoder.out_quant"]) and full["output"] < rows["output"]
    # the residual output block exists only in the quantized model: nothing to compare it with
    assert "decoder.out_quant" in full and not any(k.startswith("residual.") for k in full)


def test_16_bit_outputs_have_a_higher_sqnr_than_8(convtasnet, utts):
    def encoder_sqnr(act_bits: int) -> float:
        # the encoder alone, its weights at 16 bits: its output quantizer's noise dominates
        with bit_widths(convtasnet, {"encoder": {"weight_bits": 16, "act_bits": act_bits}}):
            rows = tensor_sqnr(convtasnet, utts, ["encoder"])
        return {r["tensor"]: r["sqnr_db"] for r in rows}["encoder.out_quant"]

    s8, s16 = encoder_sqnr(8), encoder_sqnr(16)
    assert s16 > s8 + 30, (s16, s8)  # ~6 dB per bit
    assert convtasnet.encoder.out_quant.bits == 8 and convtasnet.encoder.weight_quant.bits == 8  # restored


def test_4_bit_weights_are_noisier_than_8(convtasnet, utts):
    def out_sqnr() -> float:
        return {r["tensor"]: r["sqnr_db"] for r in tensor_sqnr(convtasnet, utts, ["masker.bottleneck"])}[
            "masker.bottleneck.out_quant"]

    s8 = out_sqnr()
    with bit_widths(convtasnet, {"masker.bottleneck": {"weight_bits": 4}}):
        s4 = out_sqnr()
    assert s4 < s8 - 3, (s4, s8)
    assert convtasnet.masker.bottleneck.weight_quant.bits == 8
