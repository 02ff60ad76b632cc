"""A ReLU fused into the layer in front (``QConv1d(..., act="relu")``, ``QAdd(..., act="relu")``): one
requantization by a non-negative output quantizer, the values of the float layer followed by a ReLU."""

import pytest
import torch

from fqss_edge.quant import QTensor, QuantSpec
from fqss_edge.quant.layers import QAdd, QConv1d, QMul, QSub
from fqss_edge.quant.quantizers import ActQuantizer
from fqss_edge.quant.tools import observation

SPEC = QuantSpec(calib_batches=1)


def _calibrated(layer, *inputs):
    with observation(layer), torch.no_grad():
        layer(*inputs)
    return layer.eval()


@pytest.mark.parametrize("groups", [1, 6], ids=["pointwise", "depthwise"])
def test_fused_conv_is_one_requantization_of_the_relu(groups):
    torch.manual_seed(0)
    x = QTensor(torch.randn(2, 6, 50))
    conv = _calibrated(QConv1d(6, 6, 3, padding=1, groups=groups, spec=SPEC, act="relu"), x)
    assert isinstance(conv.out_quant, ActQuantizer) and conv.out_quant.nonneg
    assert conv.out_quant.export_qparams()[1] == -128
    with torch.no_grad():
        acc = conv.linear(x)
        y = conv(x).value
        assert torch.equal(y, conv.out_quant(torch.relu(acc)).value.to(y.dtype))
        # the non-negative quantizer saturates the negative accumulators to 0 by itself: the ReLU is in its range
        assert torch.equal(y, conv.out_quant(acc).value.to(y.dtype))
        assert (y >= 0).all() and (y == 0).any() and (y > 0).any()
    float_conv = QConv1d(6, 6, 3, padding=1, groups=groups, spec=QuantSpec(enabled=False), act="relu").eval()
    float_conv.conv.load_state_dict(conv.conv.state_dict())
    with torch.no_grad():
        assert torch.equal(float_conv(x).value, torch.relu(float_conv.conv(x.value)))


def test_fused_add_is_one_requantization_of_the_relu():
    torch.manual_seed(1)
    a, b = QTensor(torch.randn(2, 4, 30)), QTensor(torch.randn(2, 4, 30))
    add = _calibrated(QAdd(SPEC, act="relu"), a, b)
    assert add.out_quant.nonneg and add.out_quant.export_qparams()[1] == -128
    with torch.no_grad():
        y = add(a, b).value
        assert torch.equal(y, add.out_quant(torch.relu(a.value + b.value)).value)
        assert (y >= 0).all() and (y == 0).any()


@pytest.mark.parametrize("make", [lambda: QConv1d(2, 2, 1, act="tanh"), lambda: QAdd(act="sigmoid"),
                                  lambda: QSub(act="relu"), lambda: QMul(act="relu")],
                         ids=["conv-tanh", "add-sigmoid", "sub-relu", "mul-relu"])
def test_only_a_relu_is_fused_and_only_into_a_conv_or_an_add(make):
    with pytest.raises(ValueError, match="fused activation"):
        make()
