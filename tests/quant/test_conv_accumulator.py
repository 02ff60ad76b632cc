"""The quantized convolutions' accumulator outside training: exact integer arithmetic, as int8 runtimes sum."""

import numpy as np
import pytest
import torch

from fqss_edge.models import build_model
from fqss_edge.quant import QTensor, QuantSpec
from fqss_edge.quant.layers import QConv1d, QConvTranspose1d
from fqss_edge.quant.quantizers import FixedQuantizer, export_bias
from fqss_edge.quant.tools import observation
from tests.app_models import FQSS_QUANT, TINY_MODEL

SPEC = QuantSpec(calib_batches=1)


def int_conv1d(x, w, stride, padding, dilation, groups):
    """int64 reference: x [B, Cin, T] codes, w [Cout, Cin/g, K] codes."""
    b, cin, _ = x.shape
    cout, cin_g, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    t_out = (xp.shape[-1] - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((b, cout, t_out), np.int64)
    per_group = cout // groups
    for o in range(cout):
        g = o // per_group
        for j in range(k):
            taps = xp[:, g * cin_g:(g + 1) * cin_g, j * dilation: j * dilation + stride * (t_out - 1) + 1: stride]
            out[:, o] += np.einsum("bct,c->bt", taps, w[o, :, j])
    return out


def int_conv_transpose1d(x, w, stride, padding):
    """int64 reference: x [B, Cin, T] codes, w [Cin, Cout, K] codes (groups 1)."""
    b, _, t = x.shape
    _, cout, k = w.shape
    full = np.zeros((b, cout, (t - 1) * stride + k), np.int64)
    for j in range(k):
        full[:, :, j: j + stride * (t - 1) + 1: stride] += np.einsum("bct,co->bot", x, w[:, :, j])
    return full[:, :, padding: full.shape[-1] - padding]


def quantized_input(x: torch.Tensor, bits: int = 8) -> QTensor:
    q = QuantSpec(calib_batches=1, act_bits=bits).act()
    q.train()
    q(x)
    q.eval()
    return q(x)


CASES = {
    "conv_bias": (lambda: QConv1d(8, 12, 3, padding=1, spec=SPEC), 8),
    "strided": (lambda: QConv1d(2, 16, 16, stride=8, bias=False, spec=SPEC), 8),
    "depthwise_dilated": (lambda: QConv1d(8, 8, 3, padding=4, dilation=4, groups=8, spec=SPEC), 8),
    "transpose": (lambda: QConvTranspose1d(16, 1, 16, stride=8, bias=False, spec=SPEC), 8),
    # int16 codes: partial sums beyond 2^24, so the accumulation runs in float64
    "int16_input": (lambda: QConv1d(64, 4, 1, spec=SPEC), 16),
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_eval_output_is_the_integer_accumulator_requantized(name):
    torch.manual_seed(0)
    make, bits = CASES[name]
    layer = make()
    if layer.conv.bias is not None:
        with torch.no_grad():
            layer.conv.bias.normal_(0, 0.5)
    x = torch.randn(2, layer.conv.in_channels, 400) * 3
    layer.train()
    layer(quantized_input(x, bits))  # calibrates the output range
    layer.eval()
    xq = quantized_input(x, bits)
    with torch.no_grad():
        y = layer(xq)
    assert y.value.dtype == torch.float32

    s_in = float(xq.scale)
    x_codes = (xq.int_repr() - xq.zero_point).long().numpy()
    w_codes, s_w = layer.weight_quant.export(layer.conv.weight)
    c = layer.conv
    if isinstance(layer, QConvTranspose1d):
        acc = int_conv_transpose1d(x_codes, w_codes.numpy(), c.stride[0], c.padding[0])
    else:
        acc = int_conv1d(x_codes, w_codes.numpy(), c.stride[0], c.padding[0], c.dilation[0], c.groups)
    if c.bias is not None:
        b_codes, _ = export_bias(c.bias.detach(), s_in, s_w)
        acc = acc + b_codes.numpy().astype(np.int64)[None, :, None]
    if name == "int16_input":
        assert np.abs(acc).max() > 2**24 / 64, "the case must need more than float32's exact integers"
    s_out, zp_out = layer.out_quant.export_qparams()
    real = acc * (np.float64(s_in) * s_w.numpy().astype(np.float64))[None, :, None]
    expected = np.clip(np.round(real / np.float64(s_out)) + zp_out, -128, 127)
    np.testing.assert_array_equal(y.int_repr().numpy(), expected)


def near_tie_layer() -> tuple[QConv1d, QTensor]:
    """A 1x1 convolution whose output scale is 32 s_in s_w: every accumulator = 16 mod 32 lies within ~1e-5
    codes of a rounding tie, where float32 summation error (~1e-4 codes here) picks the side at random."""
    torch.manual_seed(1)
    s_in = torch.tensor(0.01234567, dtype=torch.float32)
    layer = QConv1d(64, 16, 1, bias=False, spec=SPEC)
    w_codes = torch.randint(-127, 128, (16, 64, 1)).float()
    w_codes[:, 0, 0] = 127  # every channel's max |code| is 127, so its scale is max_abs / 127
    with torch.no_grad():
        layer.weight_quant.init_range(w_codes * 0.0137)
        layer.conv.weight.copy_(w_codes * layer.weight_quant.scale().view(-1, 1, 1))
    s_w = layer.weight_quant.scale().detach()
    assert torch.allclose(s_w, s_w[0].expand_as(s_w))
    layer.out_quant = FixedQuantizer(float(32 * s_in * s_w[0]), 0)
    x_codes = torch.randint(-4, 5, (1, 64, 4000)).float()
    return layer.eval(), QTensor(x_codes * s_in, s_in, torch.tensor(0.0), 8)


def test_float32_summation_flips_near_ties_and_the_exact_accumulator_does_not():
    layer, x = near_tie_layer()
    with torch.no_grad():
        exact = layer(x).int_repr()
        by_float = layer.out_quant(layer.float_linear(x)).int_repr()
    w_codes, s_w = layer.weight_quant.export(layer.conv.weight)
    acc = int_conv1d((x.value / x.scale).round().long().numpy(), w_codes.numpy(), 1, 0, 1, 1)
    real = acc * (np.float64(x.scale) * np.float64(s_w[0])) / np.float64(layer.out_quant.scale)
    expected = np.clip(np.round(real), -128, 127)
    np.testing.assert_array_equal(exact.numpy(), expected)
    assert (by_float != exact).sum() > 10, "the case must show the float32 summation's flips"


def test_eval_with_gradients_keeps_the_exact_value_and_the_float_gradient():
    layer, x = near_tie_layer()
    with torch.no_grad():
        exact = layer(x).value
    y = layer(x)
    assert torch.equal(y.value, exact)
    y.value.sum().backward()
    assert layer.conv.weight.grad is not None and layer.conv.weight.grad.abs().sum() > 0


def test_training_uses_the_float_convolution():
    layer, x = near_tie_layer()
    layer.train()
    y = layer(x)
    assert torch.equal(y.value, layer.out_quant(layer.float_linear(x)).value)
    assert y.value.requires_grad


def test_fqss_convtasnet_eval_output_stays_float32():
    """The exact accumulator is float64; the quantizers after it give float32 values back (incl. the residual
    output's second pass through the decoder)."""
    model = build_model(TINY_MODEL, FQSS_QUANT)
    with torch.no_grad(), observation(model):
        model(torch.rand(2, 800, generator=torch.Generator().manual_seed(0)) - 0.5)
    model.eval()
    with torch.no_grad():
        y = model(torch.rand(1, 800, generator=torch.Generator().manual_seed(1)) - 0.5)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
