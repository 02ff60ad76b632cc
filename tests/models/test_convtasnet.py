import pytest
import torch

from fqss_edge.models import build_model
from fqss_edge.parity.synthetic import FQSS_QUANT, TINY_MODEL, VANILLA_QUANT
from fqss_edge.quant import QTensor
from fqss_edge.quant.quantizers import ActQuantizer
from fqss_edge.quant.tools import count_parameters, observation

FULL = dict(n_src=2, n_filters=512, kernel_size=16, stride=8, bn_chan=128, hid_chan=512, skip_chan=128,
            conv_kernel_size=3, n_blocks=8, n_repeats=3, mask_act="relu", encoder_act="relu")
TINY = TINY_MODEL
FQSS = FQSS_QUANT
VANILLA = VANILLA_QUANT


def test_paper_recipe_has_about_5_05_million_parameters():
    n = count_parameters(build_model(FULL))
    assert abs(n - 5.05e6) / 5.05e6 < 0.005, n


def _calibrated(quant):
    torch.manual_seed(0)
    m = build_model(TINY, quant)
    with torch.no_grad(), observation(m):
        m(torch.rand(2, 800) * 1.6 - 0.8)
    return m.eval()


@pytest.mark.parametrize("quant", [FQSS, VANILLA], ids=["fqss", "vanilla"])
def test_every_tensor_between_operations_is_quantized(quant):
    m = _calibrated(quant)
    seen = []

    def hook(mod, inp, out):
        seen.append(out)

    for mod in m.modules():
        if isinstance(mod, ActQuantizer):
            mod.register_forward_hook(hook)
    m(torch.rand(1, 800) - 0.5)
    assert seen and all(isinstance(o, QTensor) and o.scale is not None for o in seen)


def test_fqss_output_is_16_bit_pcm():
    m = _calibrated(FQSS)
    y = m(torch.rand(1, 800) - 0.5)
    codes = y * 32768
    assert torch.equal(codes, torch.round(codes))


@pytest.mark.parametrize("length", [800, 801, 15, 1237])
def test_any_length_in_gives_same_length_out(length):
    m = _calibrated(FQSS)
    assert m(torch.zeros(1, length)).shape == (1, 2, length)


def test_float_and_quantized_students_share_the_network_weights():
    f = build_model(TINY)
    q = build_model(TINY, FQSS)
    q.init_from_float(f.state_dict())
    assert torch.equal(q.encoder.conv.weight[:, :1], f.encoder.conv.weight)
    assert torch.equal(q.residual.reencoder.conv.weight, f.encoder.conv.weight)
    assert torch.equal(q.masker.blocks[1].dw_conv.conv.weight, f.masker.blocks[1].dw_conv.conv.weight)


@pytest.mark.parametrize("quant", [FQSS, VANILLA], ids=["fqss", "vanilla"])
def test_one_pass_calibrates_every_quantizer(quant):
    from fqss_edge.quant.tools import uncalibrated

    assert uncalibrated(_calibrated(quant)) == []
