import pytest
import torch

from fqss_edge.quant.quantizers import (ActQuantizer, FixedQuantizer, WeightQuantizer, export_bias, quantize_bias)


def _calibrated(bits: int, lo: float, hi: float) -> ActQuantizer:
    q = ActQuantizer(bits, calib_batches=1)
    q.train()
    q(torch.tensor([lo, hi]))
    q.eval()
    return q


@pytest.mark.parametrize("bits", [8, 16], ids=["int8", "int16"])
def test_activation_values_lie_on_the_integer_grid(bits):
    q = _calibrated(bits, -1.3, 2.1)
    x = torch.linspace(-1.5, 2.5, 1001)
    out = q(x)
    codes = out.value / out.scale + out.zero_point
    assert torch.allclose(codes, torch.round(codes), atol=1e-3)
    assert float(out.zero_point) == round(float(out.zero_point))
    inside = (x > -1.3) & (x < 2.1)
    assert (out.value[inside] - x[inside]).abs().max() <= out.scale / 2 + 1e-6
    # zero is exactly representable (runtimes need it for padding)
    assert float(q(torch.zeros(1)).value) == 0.0


def test_int8_matches_torch_fake_quantize_which_exports_to_onnx_qdq():
    q = _calibrated(8, -0.7, 1.9)
    scale, zp = q.export_qparams()
    x = torch.randn(4096) * 1.5
    ref = torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127)
    assert torch.equal(q(x).value, ref)


def test_int16_is_symmetric_with_zero_point_zero():
    q = _calibrated(16, -0.5, 2.0)
    scale, zp = q.export_qparams()
    assert zp == 0
    assert scale == pytest.approx(2.0 / 32767, rel=1e-6)


def test_ema_initialisation_passes_values_through_then_quantizes():
    q = ActQuantizer(8, calib_batches=2, ema_alpha=0.9)
    q.train()
    x1, x2 = torch.tensor([-1.0, 1.0]), torch.tensor([-3.0, 2.0])
    out1 = q(x1)
    out2 = q(x2)
    assert out1.scale is None and out2.scale is None and torch.equal(out2.value, x2)
    assert float(q.lo) == pytest.approx(0.9 * -1.0 + 0.1 * -3.0)
    assert float(q.hi) == pytest.approx(0.9 * 1.0 + 0.1 * 2.0)
    out3 = q(torch.tensor([0.1234]))
    assert out3.scale is not None  # calibration over: quantized now


def test_learned_range_gets_gradients_and_ste_passes_inside():
    q = _calibrated(8, -1.0, 1.0)
    q.train()
    x = torch.tensor([-2.0, -0.3, 0.2, 0.77, 3.0], requires_grad=True)
    q(x).value.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert q.hi.grad is not None and float(q.hi.grad) != 0.0
    assert q.lo.grad is not None and float(q.lo.grad) != 0.0


def test_uncalibrated_quantizer_refuses_to_run_in_eval():
    q = ActQuantizer(8)
    q.eval()
    with pytest.raises(RuntimeError, match="calibration"):
        q(torch.ones(3))


@pytest.mark.parametrize("bits,qmax", [(4, 7), (8, 127), (16, 32767)], ids=["w4", "w8", "w16"])
def test_weight_quantizer_per_channel_symmetric(bits, qmax):
    w = torch.randn(6, 3, 5) * torch.arange(1, 7).view(6, 1, 1)
    wq = WeightQuantizer(6, bits)
    out = wq(w)
    codes, scale = wq.export(w)
    assert torch.allclose(scale, w.abs().amax(dim=(1, 2)) / qmax)
    assert codes.abs().max() <= qmax and codes.abs().amax(dim=(1, 2)).eq(qmax).all()
    assert torch.equal(out, codes.to(torch.float32) * scale.view(-1, 1, 1))


def test_int8_weights_match_onnx_exportable_per_channel_fake_quant():
    w = torch.randn(8, 4, 3)
    wq = WeightQuantizer(8, 8)
    out = wq(w)
    scale = wq.scale().detach()
    ref = torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(8, dtype=torch.int32), 0, -128, 127)
    assert torch.equal(out, ref)


def test_weight_quantizer_on_transposed_axis():
    w = torch.randn(4, 3, 5)  # ConvTranspose1d weight: [in, out, k]
    wq = WeightQuantizer(3, 8, axis=1)
    wq(w)
    assert torch.allclose(wq.scale(), w.abs().amax(dim=(0, 2)) / 127)


def test_bias_is_int32_on_input_times_weight_scale():
    b = torch.randn(5)
    s_in, s_w = torch.tensor(0.013), torch.rand(5) * 0.01 + 1e-3
    bq = quantize_bias(b, s_in, s_w)
    codes, scale = export_bias(b, float(s_in), s_w)
    assert codes.dtype == torch.int32
    assert torch.equal(scale, (s_in * s_w).float())
    assert torch.equal(bq, codes.float() * scale)


def test_exported_bias_saturates_with_its_sign():
    """float32 holds INT32.qmax as 2^31: clamped there and cast to int32 it would wrap to -2^31."""
    codes, _ = export_bias(torch.tensor([0.5, -0.5, 1e-3]), 1e-6, torch.full((3,), 1e-6))
    assert codes.tolist() == [2**31 - 1, -(2**31), 10_000_000]


def test_fixed_quantizer_keeps_its_parameters():
    q = FixedQuantizer(1 / 256, -128)
    out = q(torch.tensor([0.0, 0.5, 0.999, 1.5]))
    assert out.value.tolist() == [0.0, 0.5, 255 / 256, 255 / 256]
    assert q.export_qparams() == (1 / 256, -128)


def test_perturbed_rounding_moves_only_codes_near_a_boundary():
    from fqss_edge.quant.tools import perturbed_rounding

    q = FixedQuantizer(1.0, 0)
    x = torch.tensor([0.0, 0.2, 0.4999, 0.5001, 1.49995, -2.50004, 3.0])
    base = q(x).value
    with perturbed_rounding(1e-3, seed=1):
        moved = torch.stack([q(x).value for _ in range(200)])
    assert torch.equal(q(x).value, base)  # restored after the block
    far = torch.tensor([True, True, False, False, False, False, True])
    assert torch.equal(moved[:, far], base[far].expand(200, -1))  # more than eps from a boundary: never moves
    flips = (moved[:, ~far] != base[~far]).float().mean(0)
    assert bool(((flips > 0.2) & (flips < 0.8)).all())  # within eps: either side
    with perturbed_rounding(0.0):
        assert torch.equal(q(x).value, base)


def test_tied_quantizer_uses_the_other_quantizers_parameters():
    from fqss_edge.quant.quantizers import TiedQuantizer

    a = ActQuantizer(bits=16)
    a.observe(torch.tensor([-3.0, 2.0]))
    t = TiedQuantizer(a)
    assert t.export_qparams() == a.export_qparams() and t.bits == 16
    assert list(t.parameters()) == []  # the tied quantizer's range belongs to its owner
    x = torch.linspace(-4, 4, 101)
    a.eval()
    assert torch.equal(t(x).value, a(x).value)
    a.train()  # still calibrating: both pass values through
    assert torch.equal(t(x).value, x)


@pytest.mark.parametrize("bits", [8, 16])
def test_a_symmetric_activation_quantizer_has_zero_point_0(bits):
    q = ActQuantizer(bits=bits, calib_batches=1, symmetric=True)
    q.train()
    q(torch.tensor([-0.5, 2.0]))  # calibration: lo -0.5, hi 2.0
    scale, zp = q.export_qparams()
    assert zp == 0 and scale == pytest.approx(2.0 / q.range.qmax)
    out = q(torch.tensor([-0.5, 2.0, -3.0]))
    assert torch.allclose(out.value, torch.tensor([-0.5, 2.0, (q.range.qmin) * scale]), atol=scale / 2)
    with pytest.raises(ValueError, match="nonneg or symmetric"):
        ActQuantizer(nonneg=True, symmetric=True)
