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
    "int16_input": (lambda: QConv1d(64, 4, 1, spec=SPEC), 16),
}


def int_reference(layer, xq: QTensor) -> np.ndarray:
    """The integer accumulator (int64, incl. the int32 bias codes) of ``layer`` on ``xq``."""
    x_codes = (xq.int_repr() - xq.zero_point).long().numpy()
    w_codes, s_w = layer.weight_quant.export(layer.conv.weight)
    c = layer.conv
    if isinstance(layer, QConvTranspose1d):
        acc = int_conv_transpose1d(x_codes, w_codes.numpy(), c.stride[0], c.padding[0])
    else:
        acc = int_conv1d(x_codes, w_codes.numpy(), c.stride[0], c.padding[0], c.dilation[0], c.groups)
    if c.bias is not None:
        b_codes, _ = export_bias(c.bias.detach(), float(xq.scale), s_w)
        acc = acc + b_codes.numpy().astype(np.int64)[None, :, None]
    return acc


def acc_scale(layer, xq: QTensor) -> np.ndarray:
    return (np.float64(xq.scale) * layer.weight_quant.scale().detach().numpy().astype(np.float64))[None, :, None]


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
        linear = layer.linear(xq).numpy()
    assert y.value.dtype == torch.float32
    acc = int_reference(layer, xq)
    scale = acc_scale(layer, xq)
    # the accumulator itself: a float32 convolution is off by ~1e-7 relative, this is float64's 1e-16
    np.testing.assert_allclose(linear / scale, acc, rtol=1e-12, atol=1e-9)
    s_out, zp_out = layer.out_quant.export_qparams()
    expected = np.clip(np.round(acc * scale / np.float64(s_out)) + zp_out, -128, 127)
    np.testing.assert_array_equal(y.int_repr().numpy(), expected)


def test_partial_sums_beyond_float32_integers_are_summed_in_float64():
    """Same-sign int16 codes: partial sums pass 2^24, where float32 holds only even integers (and coarser)."""
    torch.manual_seed(0)
    layer = QConv1d(64, 4, 1, bias=False, spec=SPEC).eval()
    w_codes = torch.randint(100, 128, (4, 64, 1)).float()
    with torch.no_grad():
        layer.weight_quant.init_range(w_codes * 0.01)
        layer.conv.weight.copy_(torch.round(w_codes * 0.01 / layer.weight_quant.scale().view(-1, 1, 1))
                                * layer.weight_quant.scale().view(-1, 1, 1))
    s_in = torch.tensor(1 / 32768, dtype=torch.float32)
    x_codes = torch.randint(20000, 32768, (1, 64, 300)).float()
    xq = QTensor(x_codes * s_in, s_in, torch.tensor(0.0), 16)
    acc = int_reference(layer, xq)
    assert acc.max() > 2**24
    w_int, _ = layer.weight_quant.export(layer.conv.weight)
    in_float32 = torch.nn.functional.conv1d(x_codes, w_int.float()).numpy().astype(np.int64)
    assert (in_float32 != acc).any(), "the case must be out of float32's exact integers"
    with torch.no_grad():
        linear = layer.linear(xq).numpy()
    np.testing.assert_allclose(linear / acc_scale(layer, xq), acc, rtol=1e-12, atol=0)


def test_exact_without_onednn():
    """Without oneDNN, PyTorch sends batches of 16+ to NNPACK (FFT / Winograd, not exact on integers)."""
    torch.manual_seed(0)
    layer = QConv1d(128, 64, 1, spec=SPEC)
    x = torch.randn(16, 128, 200) * 3
    layer.train()
    layer(quantized_input(x))
    layer.eval()
    xq = quantized_input(x)
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        linear = layer.linear(xq).numpy()
    np.testing.assert_allclose(linear / acc_scale(layer, xq), int_reference(layer, xq), rtol=1e-12, atol=1e-9)


def test_a_channel_whose_bias_scale_is_clamped_matches_the_float_path():
    """All-zero weights give s_w = 1e-10/127 and a bias scale clamped to 1e-10: the bias codes are at that scale."""
    layer = QConv1d(4, 2, 1, spec=SPEC)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.weight[1] = 0.3
        layer.conv.bias.copy_(torch.tensor([0.05, -0.2]))
    x = torch.randn(1, 4, 50)
    layer.train()
    layer(quantized_input(x))
    layer.eval()
    xq = quantized_input(x)
    with torch.no_grad():
        exact = layer(xq).int_repr()
        by_float = layer.out_quant(layer.float_linear(xq))
    assert float(by_float.value[0, 0, 0]) != 0.0, "the case must have a bias the output quantizer can hold"
    assert torch.equal(exact[:, 0], by_float.int_repr()[:, 0])


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


def near_tie_expected(layer: QConv1d, x: QTensor) -> np.ndarray:
    """The output codes of ``near_tie_layer``: its integer accumulator, requantized exactly."""
    real = int_reference(layer, x) * acc_scale(layer, x) / np.float64(layer.out_quant.scale)
    return np.clip(np.round(real), -128, 127)


def test_float32_summation_flips_near_ties_and_the_exact_accumulator_does_not():
    layer, x = near_tie_layer()
    with torch.no_grad():
        exact = layer(x).int_repr()
        by_float = layer.out_quant(layer.float_linear(x)).int_repr()
    np.testing.assert_array_equal(exact.numpy(), near_tie_expected(layer, x))
    assert (by_float != exact).sum() > 10, "the case must show the float32 summation's flips"


def test_eval_with_gradients_keeps_the_exact_value_and_the_float_gradient():
    layer, x = near_tie_layer()
    y = layer(x)
    np.testing.assert_array_equal(y.int_repr().numpy(), near_tie_expected(layer, x))
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


@pytest.mark.parametrize("bias, padding", [(False, 0), (True, 2)], ids=["encoder", "padded_bias"])
def test_input_offset_is_an_exact_share_of_the_int32_bias(bias, padding):
    """``set_input_offset([0, 1])`` (the FQSS input layer reading the low byte as ``(p & 0xFF) / 128``): the
    accumulator is the integer convolution plus ``128 * sum_k w_codes[:, 1, k]`` bias codes; without padding that
    is the convolution of the input codes plus the offset."""
    torch.manual_seed(0)
    layer = QConv1d(2, 8, 5, padding=padding, bias=bias, spec=SPEC)
    layer.set_input_offset([0.0, 1.0])
    if bias:
        with torch.no_grad():
            layer.conv.bias.normal_(0, 0.5)
    xq = FixedQuantizer(1 / 128, 0)(torch.rand(2, 2, 300) * 2 - 1)
    layer.train()
    layer(xq)
    layer.eval()
    with torch.no_grad():
        exact = layer.linear(xq)
    w_codes = layer.weight_quant.export(layer.conv.weight)[0].numpy()
    share = 128 * w_codes[:, 1, :].sum(-1)
    acc = int_reference(layer, xq) + share[None, :, None]
    np.testing.assert_allclose(exact.numpy() / acc_scale(layer, xq), acc, rtol=1e-12, atol=1e-9)
    if padding == 0:
        shifted = (xq.int_repr() - xq.zero_point).long().numpy() + np.array([0, 128])[None, :, None]
        np.testing.assert_array_equal(acc, int_conv1d(shifted, w_codes, 1, 0, 1, 1))
    layer.train()  # the training path (float convolution) adds the same share
    with torch.no_grad():
        np.testing.assert_allclose(layer.linear(xq).numpy(), exact.numpy(), rtol=1e-5, atol=1e-5)


def test_state_without_the_input_offset_loads_with_offset_zero():
    """Weights trained before the layer had an offset read the input as they were trained: offset 0."""
    old = QConv1d(2, 4, 3, bias=False, spec=SPEC)
    state = old.state_dict()
    new = QConv1d(2, 4, 3, bias=False, spec=SPEC)
    new.set_input_offset([0.0, 1.0])
    new.load_state_dict(state)
    assert new.input_offset.tolist() == [0.0, 0.0]
    new.set_input_offset([0.0, 1.0])
    new.load_state_dict(new.state_dict())
    assert new.input_offset.tolist() == [0.0, 1.0]
