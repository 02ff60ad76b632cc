"""The model contract (fqss_edge/models/base.py, registry.py) and the pieces it relies on: the residual output's
mirror of a decoder, quantizers passed as arguments, checkpoint configs read as typed configs."""

from __future__ import annotations

import pytest
import torch

from fqss_edge.checkpoint import save_checkpoint
from fqss_edge.models import ConvTasNet, build_model, register_architecture
from fqss_edge.models.io import load_model
from fqss_edge.parity.synthetic import FQSS_QUANT_NORM8, TINY_MODEL, calibrated_random_model, smoke_model
from fqss_edge.quant.layers import QAdd, QConv1d, QConvTranspose1d, QPReLU, QReLU, ResidualOutput
from fqss_edge.quant.layers.io import split_bytes
from fqss_edge.quant.quantizers import FixedQuantizer
from fqss_edge.quant.spec import QuantSpec

SPEC = QuantSpec(calib_batches=1)


@pytest.mark.parametrize("decoder", [
    QConv1d(8, 2, 5, padding=2, spec=SPEC),  # a bias would be added twice (y0 and y1)
    QConv1d(8, 2, 5, padding=2, stride=2, bias=False, spec=SPEC),
    QConv1d(8, 2, 5, padding=0, bias=False, spec=SPEC),  # shortens the signal
], ids=["bias", "strided", "shortening"])
def test_residual_output_refuses_decoders_it_cannot_mirror(decoder):
    with pytest.raises(ValueError, match="residual output"):
        ResidualOutput(decoder, SPEC)


@pytest.mark.parametrize("decoder, reenc", [
    (QConvTranspose1d(16, 1, 16, 8, bias=False, spec=SPEC), (1, 16, 16, 8, 0, 1)),
    (QConv1d(8, 2, 5, padding=4, dilation=2, bias=False, spec=SPEC), (2, 8, 5, 1, 4, 2)),
], ids=["transposed", "same-length"])
def test_residual_output_mirrors_the_decoder(decoder, reenc):
    c = ResidualOutput(decoder, SPEC).reencoder.conv
    assert (c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0], c.dilation[0]) == reenc
    assert c.bias is None


@pytest.mark.parametrize("make", [
    lambda q: QConv1d(2, 2, 3, spec=SPEC, out_quant=q), lambda q: QConvTranspose1d(2, 2, 3, spec=SPEC, out_quant=q),
    lambda q: QPReLU(spec=SPEC, out_quant=q), lambda q: QReLU(SPEC, out_quant=q), lambda q: QAdd(SPEC, out_quant=q),
], ids=["conv", "conv_transpose", "prelu", "relu", "add"])
def test_layers_take_their_output_quantizer_as_an_argument(make):
    q = FixedQuantizer(1 / 64, 3, 8, True)
    assert make(q).out_quant is q


def test_conv_takes_its_weight_quantizer_as_an_argument():
    w4 = SPEC.weight(2, bits=4)
    assert QConv1d(2, 2, 3, spec=SPEC, weight_quant=w4).weight_quant is w4


def test_residual_model_needs_the_high_byte_decoder():
    class Wrong(ConvTasNet):
        def output_quant(self):
            return self.spec.act()

    with pytest.raises(ValueError, match="high byte"):
        Wrong(ConvTasNet.config_class(**ConvTasNet.smoke_config), SPEC, splitter=True, residual_output=True)


def test_architectures_are_registered_once_and_before_the_config_union():
    with pytest.raises(RuntimeError, match="fqss_edge/models/__init__.py"):
        register_architecture(ConvTasNet)


def test_embedded_config_without_quant_section_is_a_float_model(tmp_path):
    """Checkpoints from other tools carry only a model section: a float model, not the FQSS defaults."""
    model = build_model(TINY_MODEL)
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), {"model": TINY_MODEL}, {})
    loaded = load_model(path)
    assert not loaded.quantized and not loaded.model.quantized and loaded.model.residual is None


def test_bare_state_dict_takes_a_config_mapping(tmp_path):
    model = build_model(smoke_model("flatconv"))
    torch.save(model.state_dict(), tmp_path / "m.pth")
    loaded = load_model(tmp_path / "m.pth", {"model": smoke_model("flatconv"), "quant": {"enabled": False}})
    assert type(loaded.model).__name__ == "FlatConv"


def test_fqss_checkpoint_from_before_the_offset_free_low_byte_computes_what_it_did(tmp_path):
    """A checkpoint without ``encoder.input_offset`` was trained on ``x_lo = (p & 0xFF) - 128``: it loads with offset 0
    (digital silence reaches it as x_lo = -1, and it answers with what it always did); a new one reads the low byte
    offset-free, ``x_lo + 1``: the encoder's accumulator differs by exactly the low-byte weights' sum."""
    model = calibrated_random_model(smoke_model("convtasnet"), FQSS_QUANT_NORM8)
    run = {"model": smoke_model("convtasnet"), "quant": FQSS_QUANT_NORM8}
    state = model.state_dict()
    new = load_model(save_checkpoint(tmp_path / "new.safetensors", state, run, {})).model
    old_state = {k: v for k, v in state.items() if k != "encoder.input_offset"}
    old = load_model(save_checkpoint(tmp_path / "old.safetensors", old_state, run, {})).model
    assert new.encoder.input_offset.tolist() == [0.0, 1.0] and old.encoder.input_offset.tolist() == [0.0, 0.0]
    silence = torch.zeros(1, 1, 800)
    with torch.no_grad():
        assert float(new(silence).abs().max()) == 0.0 and float(old(silence).abs().max()) > 0.0
        x = new.input(torch.rand(1, 1, 800) * 2 - 1)
        w_codes, s_w = new.encoder.weight_quant.export(new.encoder.conv.weight)
        w_lo = w_codes[:, 1, :].sum(-1).double() * s_w.double()
        diff = new.encoder.linear(x) - old.encoder.linear(x)
    torch.testing.assert_close(diff, w_lo.view(1, -1, 1).expand_as(diff), rtol=0, atol=1e-12)
    assert float(split_bytes(silence)[:, 1].max()) == -1.0  # the splitter's codes are unchanged
