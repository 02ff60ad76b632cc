import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fqss_edge.quant import QuantSpec, QTensor
from fqss_edge.quant.layers import (InputSplitter, QAdd, QConv1d, QConvTranspose1d, QGlobalLayerNorm, QMul,
                                    QPReLU, QReLU, QSigmoid, QSub, split_bytes)
from fqss_edge.quant.tools import observation

sys.path.insert(0, str(Path(__file__).parent))  # tests use --import-mode=importlib
from ties import half_even_mean, tie_codes  # noqa: E402

SPEC = QuantSpec(calib_batches=1)


def sqnr_db(ref: torch.Tensor, x: torch.Tensor) -> float:
    return 20 * math.log10(float(ref.norm() / (ref - x).norm()))


def _qin(x: torch.Tensor) -> QTensor:
    q = SPEC.act()
    q.train()
    q(x)
    q.eval()
    return q(x)


LAYERS = {
    "conv": lambda: QConv1d(8, 12, 3, padding=1, spec=SPEC),
    "conv_strided": lambda: QConv1d(8, 12, 16, stride=8, spec=SPEC),
    "depthwise_dilated": lambda: QConv1d(8, 8, 3, padding=4, dilation=4, groups=8, spec=SPEC),
    "conv_transpose": lambda: QConvTranspose1d(8, 1, 16, stride=8, spec=SPEC),
    "prelu": lambda: QPReLU(spec=SPEC),
    "relu": lambda: QReLU(SPEC),
    "sigmoid": lambda: QSigmoid(SPEC),
    "gln": lambda: QGlobalLayerNorm(8, SPEC),
    "gln_int16_stats": lambda: QGlobalLayerNorm(8, QuantSpec(calib_batches=1, norm_bits=16)),
}


@pytest.mark.parametrize("name", LAYERS, ids=list(LAYERS))
def test_quantized_layer_tracks_its_float_twin(name):
    torch.manual_seed(0)
    layer = LAYERS[name]()
    x = torch.randn(2, 8, 240)
    with torch.no_grad(), observation(layer):
        ref = layer(QTensor(x)).value  # observing: float path
    layer.eval()
    with torch.no_grad():
        out = layer(_qin(x))
    assert out.scale is not None, "output must be quantized"
    assert sqnr_db(ref, out.value) > 25.0


@pytest.mark.parametrize("cls,op", [(QAdd, torch.add), (QSub, torch.sub), (QMul, torch.mul)], ids=["add", "sub", "mul"])
def test_elementwise(cls, op):
    a, b = torch.randn(2, 4, 50), torch.randn(2, 4, 50)
    layer = cls(SPEC)
    with torch.no_grad(), observation(layer):
        layer(QTensor(a), QTensor(b))
    layer.eval()
    out = layer(_qin(a), _qin(b))
    assert out.scale is not None and sqnr_db(op(a, b), out.value) > 30


def test_splitter_gives_the_two_bytes_of_pcm16():
    pcm = torch.randint(-32768, 32768, (1, 1, 5000))
    pcm[0, 0, :4] = torch.tensor([-32768, -1, 0, 32767])
    v = split_bytes(pcm.float() / 32768)
    hi, lo = (v[0, 0] * 128).long(), (v[0, 1] * 128).long()
    assert torch.equal(hi, pcm[0, 0] >> 8)
    assert torch.equal(lo, (pcm[0, 0] & 0xFF) - 128)
    assert torch.equal(hi * 256 + lo + 128, pcm[0, 0])
    out = InputSplitter(SPEC)(pcm.float() / 32768)
    assert float(out.scale) == 1 / 128 and int(out.zero_point) == 0


def test_gln_declares_its_int16_island():
    assert len(QGlobalLayerNorm(4, QuantSpec(norm_bits=16)).island_tensors()) == 7
    assert QGlobalLayerNorm(4, QuantSpec(norm_bits=8)).island_tensors() == []


def _gln_variance(norm_bits: int, x: torch.Tensor, level: float) -> tuple[float, float]:
    """Calibrated on ``x``, run on ``level * x``: (variance the quantized gLN computes, exact variance of its
    quantized centred input)."""
    gln = QGlobalLayerNorm(x.shape[1], QuantSpec(calib_batches=1, norm_bits=norm_bits))
    with torch.no_grad(), observation(gln):
        gln(QTensor(x))
    gln.eval()
    seen = {}
    gln.q_centered.register_forward_hook(lambda m, i, o: seen.update(xc=o.value))
    gln.q_var.register_forward_hook(lambda m, i, o: seen.update(var=o.value))
    with torch.no_grad():
        gln(_qin(x * level))
    return float(seen["var"]), float((seen["xc"] ** 2).mean())


def test_int8_gln_variance_from_split_squares_is_accurate():
    """Heavy-tailed activations: squares span four decades. One int8 range over them (the range calibrated on a
    louder input) rounds most to 0: 0.83-0.91x the exact variance at 0.4x the level here. The split (exact small
    squares + coarse large ones) keeps the variance within 3 % on every draw, at both levels."""
    for seed in range(5):
        torch.manual_seed(seed)
        x = torch.distributions.Laplace(0.0, 1.0).sample((1, 16, 400)) ** 3
        x = x * (1 + torch.rand(1, 16, 1))
        for level in (1.0, 0.4):
            var, exact = _gln_variance(8, x, level)
            assert abs(var / exact - 1) < 0.03, f"seed {seed}, level {level}: int8 variance {var:.4g} vs {exact:.4g}"


def test_gln_statistics_track_their_range_instead_of_learning_it():
    """The per-utterance scalars of gLN (here a ~0.002 variance) keep an EMA range: Adam's absolute steps on a
    learned ``hi`` pushed such ranges below 0 within a QAT run, collapsing the scale and freezing the gLN."""
    gln = QGlobalLayerNorm(4, QuantSpec(calib_batches=1, norm_bits=8))
    stats = [gln.q_mean, gln.q_var_small, gln.q_var_rest, gln.q_var, gln.q_var_eps, gln.q_rstd]
    assert all(q.tracking and not q.hi.requires_grad for q in stats)
    assert gln.q_centered.hi.requires_grad  # tensors keep learned ranges
    x = 0.05 * torch.randn(2, 4, 100)
    with torch.no_grad(), observation(gln):
        gln(QTensor(x))
    before = float(gln.q_var.hi)
    gln.train()
    for _ in range(30):  # louder batches: the tracked range follows them
        gln(QTensor(4 * x)).value.sum().backward()
    assert gln.q_var.hi.grad is None and float(gln.q_var.hi) > 3 * before  # (xc saturates at its own range)
    assert all(q.export_qparams()[0] > 1e-9 for q in stats)


@pytest.mark.parametrize("t", [4, 250, 1000, 4001])
def test_time_mean_of_int16_codes_is_exact_half_even(t):
    """``q_var_time``'s value is the exact mean of the codes rounded half to even (ties on either side by the
    float32 summation order before: order-dependent codes no runtime could reproduce)."""
    from fqss_edge.quant.layers.norm import exact_time_mean

    codes = tie_codes(16, t, seed=t)
    scale = torch.tensor(1.37e-4)
    x = QTensor(torch.from_numpy(codes).float() * scale, scale, torch.tensor(0), 16)
    mean = exact_time_mean(x, x.value.mean(dim=2, keepdim=True))
    got = torch.round(mean / scale).numpy().astype(np.int64)
    assert np.array_equal(got, half_even_mean(codes))
    shuffled = x.with_value(x.value[..., torch.randperm(t)])
    assert torch.equal(exact_time_mean(shuffled, shuffled.value.mean(dim=2, keepdim=True)), mean)


def test_gln_int16_time_means_are_exact():
    """In the layer: the codes of ``q_var_time`` are the exact half-even means of ``q_square``'s codes, and the
    gradient reaches the input through them as through the float mean."""
    gln = QGlobalLayerNorm(8, QuantSpec(calib_batches=1, norm_bits=16))
    x = torch.randn(3, 8, 4)
    with torch.no_grad(), observation(gln):
        gln(QTensor(x))
    gln.eval()
    seen = {}
    gln.q_square.register_forward_hook(lambda m, i, o: seen.update(sq=o.int_repr().numpy()))
    gln.q_var_time.register_forward_hook(lambda m, i, o: seen.update(vt=o.int_repr().numpy()))
    xin = x.clone().requires_grad_(True)
    gln(QTensor(xin)).value.sum().backward()
    sums = seen["sq"].sum(axis=-1)
    assert np.any(2 * (sums % 4) == 4)  # exact ties among them
    assert np.array_equal(seen["vt"], half_even_mean(seen["sq"]))
    assert xin.grad is not None and xin.grad.abs().sum() > 0
