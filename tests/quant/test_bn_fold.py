"""BatchNorm folded into a QConv1d (``fqss_edge/quant/layers/bn_fold.py``): exact in float, trained normally in
float, frozen and folded (the weight quantizer sees the folded weights) when quantized."""

import pytest
import torch
import torch.nn.functional as F

from fqss_edge.quant import QTensor, QuantSpec
from fqss_edge.quant.layers import QConv1d
from fqss_edge.quant.spec import FLOAT
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=1)
SIDES = {  # side -> (conv arguments): out side on a padded 3-tap conv too, in side on 1x1 and unpadded convs
    "out-1x1": ("out", dict(in_channels=6, out_channels=10, kernel_size=1)),
    "out-k3-padded": ("out", dict(in_channels=6, out_channels=10, kernel_size=3, padding=1)),
    "in-1x1": ("in", dict(in_channels=6, out_channels=10, kernel_size=1)),
    "in-k3": ("in", dict(in_channels=6, out_channels=10, kernel_size=3)),
}


def _randomize(bn: torch.nn.BatchNorm1d, seed: int = 0) -> None:
    """Statistics and affine parameters far from the identity (a trained BatchNorm's)."""
    g = torch.Generator().manual_seed(seed)
    n = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(n, generator=g))
        bn.running_var.copy_(torch.rand(n, generator=g) * 3 + 0.1)
        bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(n, generator=g))


def _layer(key: str, spec: QuantSpec = FLOAT) -> QConv1d:
    side, kw = SIDES[key]
    torch.manual_seed(0)
    layer = QConv1d(spec=spec, fold_bn=side, **kw)
    _randomize(layer.bn)
    return layer


def _unfolded(layer: QConv1d, x: torch.Tensor) -> torch.Tensor:
    """The conv and the BatchNorm as two float ops (the BatchNorm in eval mode: running statistics)."""
    c, bn = layer.conv, layer.bn

    def bn_eval(v: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(v, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)

    def conv(v: torch.Tensor) -> torch.Tensor:
        return F.conv1d(v, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)

    return conv(bn_eval(x)) if bn.side == "in" else bn_eval(conv(x))


@pytest.mark.parametrize("key", SIDES)
def test_eval_batchnorm_equals_the_folded_conv(key):
    layer = _layer(key).eval()
    x = torch.randn(2, 6, 50)
    with torch.no_grad():
        y = layer(QTensor(x)).value
        ref = _unfolded(layer, x)
    assert torch.allclose(y, ref, rtol=1e-5, atol=1e-5), (y - ref).abs().max()


@pytest.mark.parametrize("key", SIDES)
def test_float_training_uses_batch_statistics_and_updates_the_running_ones(key):
    layer = _layer(key).train()
    before = layer.bn.running_mean.clone()
    x = torch.randn(4, 6, 50) * 3 + 1
    y = layer(QTensor(x)).value
    side = layer.bn.side
    c = layer.conv
    ref = F.conv1d(F.batch_norm(x, None, None, layer.bn.weight, layer.bn.bias, True, 0.0, layer.bn.eps), c.weight,
                   c.bias, c.stride, c.padding) if side == "in" else \
        F.batch_norm(F.conv1d(x, c.weight, c.bias, c.stride, c.padding), None, None, layer.bn.weight, layer.bn.bias,
                     True, 0.0, layer.bn.eps)
    assert torch.allclose(y, ref, atol=1e-5)
    assert not torch.equal(before, layer.bn.running_mean) and int(layer.bn.num_batches_tracked) == 1


@pytest.mark.parametrize("key", SIDES)
def test_quantized_training_freezes_the_statistics_and_trains_through_the_fold(key):
    layer = _layer(key, SPEC).train()
    stats = (layer.bn.running_mean.clone(), layer.bn.running_var.clone())
    x = torch.randn(2, 6, 50)
    qin = SPEC.act()
    with observation(qin):
        qin(x)
    layer(qin(x)).value.square().sum().backward()  # the first batch calibrates the output quantizer
    layer.zero_grad()
    layer(qin(x)).value.square().sum().backward()
    assert torch.equal(stats[0], layer.bn.running_mean) and torch.equal(stats[1], layer.bn.running_var)
    assert int(layer.bn.num_batches_tracked) == 0
    for p in (layer.conv.weight, layer.bn.weight, layer.bn.bias):
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("key", SIDES)
def test_the_weight_quantizer_sees_the_folded_weights(key):
    """Per output channel int8 codes of the folded weights, ranges from their max|w|: what the export writes."""
    layer = _layer(key, SPEC)
    layer.init_quant_ranges()
    w, b = layer.bn.fold(layer.conv.weight, layer.conv.bias)
    codes, scale = layer.weight_quant.export(layer.conv.weight)  # the raw weights' codes at the folded ranges
    folded_codes, _ = layer.weight_quant.export(layer.folded_params()[0])
    assert torch.allclose(scale * 127, w.detach().abs().amax(dim=(1, 2)))
    assert torch.equal(folded_codes, torch.round(w.detach() / scale.view(-1, 1, 1)).long())
    assert not torch.equal(codes, folded_codes)
    assert torch.equal(layer.folded_params()[1], b)


@pytest.mark.parametrize("kw, match", [
    (dict(in_channels=6, out_channels=10, kernel_size=3, padding=1), "no padding"),
    (dict(in_channels=6, out_channels=6, kernel_size=1, groups=6), "groups 1"),
])
def test_an_input_side_batchnorm_that_cannot_fold_exactly_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        QConv1d(fold_bn="in", **kw)
