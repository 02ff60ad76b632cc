"""A folded gLN (``QGlobalLayerNorm(..., folded=True)``): its gamma and beta applied by the convs after it
(``QConv1d.fold_affine_of``, ``QGlobalLayerNorm.affine_fold``): exact against gLN-then-conv for a 1x1 conv and
inside a padded depthwise conv, trained through the fold, the folded weights quantized."""

import copy

import pytest
import torch
import torch.nn.functional as F

from fqss_edge.quant import QTensor, QuantSpec
from fqss_edge.quant.layers import QConv1d, QGlobalLayerNorm
from fqss_edge.quant.spec import FLOAT
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=1)
C = 6
CONSUMERS = {  # a 1x1 conv (exact everywhere), a padded dilated depthwise conv (exact away from the padding)
    "1x1": dict(in_channels=C, out_channels=10, kernel_size=1),
    "depthwise": dict(in_channels=C, out_channels=C, kernel_size=3, padding=2, dilation=2, groups=C),
}


def _pair(key: str, spec: QuantSpec = FLOAT) -> tuple[QGlobalLayerNorm, QConv1d]:
    torch.manual_seed(0)
    norm = QGlobalLayerNorm(C, spec, folded=True)
    with torch.no_grad():
        norm.gamma.copy_(torch.rand(C) + 0.5)
        norm.beta.copy_(torch.randn(C))
    conv = QConv1d(spec=spec, **CONSUMERS[key])
    conv.fold_affine_of(norm)
    return norm, conv


def _unfolded(norm: QGlobalLayerNorm, conv: QConv1d, x: torch.Tensor) -> torch.Tensor:
    """gLN with its affine map, then the conv with its own weights (float)."""
    mean = x.mean(dim=(1, 2), keepdim=True)
    var = (x - mean).square().mean(dim=(1, 2), keepdim=True)
    y = (x - mean) / torch.sqrt(var + norm.eps) * norm.gamma.view(1, -1, 1) + norm.beta.view(1, -1, 1)
    c = conv.conv
    return F.conv1d(y, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)


@pytest.mark.parametrize("key", CONSUMERS)
def test_float_fold_equals_gln_then_conv_away_from_the_padding(key):
    norm, conv = _pair(key)
    x = torch.randn(2, C, 40) * 3 + 1
    with torch.no_grad():
        y = conv(norm(QTensor(x))).value
        ref = _unfolded(norm, conv, x)
    pad = conv.conv.padding[0]
    inner = slice(pad, x.shape[2] - pad)
    assert torch.allclose(y[..., inner], ref[..., inner], atol=1e-5), (y - ref)[..., inner].abs().max()
    if pad:  # the padded taps read 0 in the normalised domain: the edge frames are the folded model's own
        assert not torch.allclose(y[..., :pad], ref[..., :pad], atol=1e-3)


@pytest.mark.parametrize("key", CONSUMERS)
def test_the_weight_quantizer_sees_the_folded_weights_and_training_reaches_gamma_and_beta(key):
    norm, conv = _pair(key, SPEC)
    conv.init_quant_ranges()
    w, b = norm.affine_fold(conv.conv.weight, conv.conv.bias, conv.conv.groups)
    shape = (-1, 1, 1) if key == "depthwise" else (1, -1, 1)
    assert torch.allclose(w, conv.conv.weight * norm.gamma.view(shape))
    codes, scale = conv.weight_quant.export(conv.folded_params()[0])
    assert torch.allclose(scale * 127, w.detach().abs().amax(dim=(1, 2)))
    assert torch.equal(codes, torch.round(w.detach() / scale.view(-1, 1, 1)).long())
    assert torch.equal(conv.folded_params()[1], b)
    x = torch.randn(2, C, 40)
    qin = SPEC.act()
    with observation(qin):
        qin(x)
    norm.train(), conv.train()
    conv(norm(qin(x))).value.square().sum().backward()  # the first batch calibrates the ranges
    norm.zero_grad(), conv.zero_grad()
    conv(norm(qin(x))).value.square().sum().backward()
    for p in (conv.conv.weight, norm.gamma, norm.beta):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_a_folded_norm_has_no_affine_quantizers_and_its_parameters_are_saved_once():
    norm, conv = _pair("1x1", SPEC)
    assert norm.gamma_quant is None and norm.beta_quant is None and norm.q_scaled is None and norm.q_normed is None
    model = torch.nn.Sequential(norm, conv)
    keys = list(model.state_dict())
    assert [k for k in keys if k.endswith(("gamma", "beta"))] == ["0.gamma", "0.beta"]
    assert not any(k.startswith("1.affine_in") for k in keys)
    twin = copy.deepcopy(model)  # the FQSS teacher / best-checkpoint copies: the conv follows its own norm
    assert twin[1].affine_in is twin[0] and model[1].affine_in is model[0]


@pytest.mark.parametrize("folded, kw, match", [
    (False, CONSUMERS["1x1"], "folded norm"),
    (True, dict(in_channels=C + 1, out_channels=4, kernel_size=1), "input channels"),
    (True, dict(in_channels=C, out_channels=C * 2, kernel_size=1, groups=C), "depthwise"),
])
def test_a_consumer_that_cannot_take_the_affine_is_refused(folded, kw, match):
    norm = QGlobalLayerNorm(C, folded=folded)
    with pytest.raises(ValueError, match=match):
        QConv1d(**kw).fold_affine_of(norm)


def test_an_input_offset_and_a_folded_affine_exclude_each_other():
    _, conv = _pair("1x1")
    with pytest.raises(ValueError, match="no folded norm"):
        conv.set_input_offset([1.0] * C)
