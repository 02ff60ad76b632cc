"""The model contract (fqss_edge/models/base.py, registry.py) and the pieces it relies on: the residual output's
mirror of a decoder, quantizers passed as arguments, checkpoint configs read as typed configs."""

from __future__ import annotations

import pytest
import torch

from fqss_edge.checkpoint import save_checkpoint
from fqss_edge.models import ConvTasNet, build_model, register_architecture
from fqss_edge.models.io import load_model
from fqss_edge.parity.synthetic import TINY_MODEL, smoke_model
from fqss_edge.quant.layers import QAdd, QConv1d, QConvTranspose1d, QPReLU, QReLU, ResidualOutput
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
