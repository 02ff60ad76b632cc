"""``fake_quant`` as one autograd Function (``FakeQuant``): the values and gradients of the differentiable torch
operations it replaced (``fake_quant_ops``), bit for bit, with less kept for backward: the input alone for a
learned range (the composed operations kept three float tensors of its size), a bool mask for a fixed one."""

import pytest
import torch

from fqss_edge.models import ARCHITECTURES
from fqss_edge.models.factory import build_model, model_config, quant_config
from fqss_edge.parity.synthetic import FQSS_QUANT, FQSS_QUANT_NORM8, smoke_model
from fqss_edge.quant import quantizers
from fqss_edge.quant.quantizers import (
    ActQuantizer,
    FakeQuant,
    FixedQuantizer,
    fake_quant_ops,
)
from fqss_edge.quant.ranges import activation_range
from fqss_edge.train.losses import distillation_loss, separation_loss
from fqss_edge.train.methods import build_models


def _saved(fn, *args) -> tuple[list[torch.Tensor], object]:
    """(the tensors autograd keeps for backward while ``fn(*args)`` runs, its result)"""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*args)
    return saved, out


def _distinct_bytes(tensors: list[torch.Tensor]) -> int:
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def _learned_range(lo: float, hi: float, bits: int = 8) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    q = ActQuantizer(bits, calib_batches=1)
    q.train()
    q(torch.tensor([lo, hi]))
    scale, zp = q.qparams()
    return scale, zp, (q.lo, q.hi)


@pytest.mark.parametrize("bits", [8, 16], ids=["int8", "int16"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("spread", [0.05, 1.0, 30.0], ids=["inside", "both", "saturating"])
def test_values_and_gradients_equal_the_composed_operations(bits, dtype, spread):
    g = torch.Generator().manual_seed(0)
    x0 = (torch.randn(2, 5, 333, generator=g, dtype=torch.float64) * spread).to(dtype)
    upstream = torch.randn(2, 5, 333, generator=g, dtype=dtype)
    results = []
    for fn in (fake_quant_ops, FakeQuant.apply):
        x = x0.clone().requires_grad_(True)
        scale, zp, (lo, hi) = _learned_range(-0.9, 1.7, bits)
        r = activation_range(bits)
        y = fn(x, scale, zp, r.qmin, r.qmax)
        (y * upstream).sum().backward()
        results.append((y.detach(), x.grad, lo.grad, hi.grad))
    for name, a, b in zip(("values", "input grad", "lo grad", "hi grad"), *results):
        assert a.dtype == b.dtype and torch.equal(a, b), name


@pytest.mark.parametrize("n", [1000, 4096])
def test_learned_range_keeps_only_its_input(n):
    x = torch.randn(3, n, requires_grad=True) * 2
    scale, zp, _ = _learned_range(-1.0, 1.5)
    saved, _ = _saved(FakeQuant.apply, x, scale, zp, -128, 127)
    big = [t for t in saved if t.numel() > 1]
    assert len(big) == 1 and big[0] is x
    composed, _ = _saved(fake_quant_ops, x, scale, zp, -128, 127)
    assert _distinct_bytes([t for t in composed if t.numel() > 1]) == 3 * x.numel() * 4  # x / s, codes, codes - zp
    assert _distinct_bytes(saved) < _distinct_bytes(composed)


def test_fixed_range_keeps_a_bool_mask():
    x = torch.randn(3, 5000, requires_grad=True)
    fixed = FixedQuantizer(1 / 128, 0)
    saved, out = _saved(fixed, x)
    big = [t for t in saved if t.numel() > 1]
    assert [t.dtype for t in big] == [torch.bool] and _distinct_bytes(big) == x.numel()
    out.value.sum().backward()
    codes = torch.round(x.detach() * 128)
    assert torch.equal(x.grad, ((codes >= -128) & (codes <= 127)).float())


def test_no_gradient_needed_keeps_nothing():
    scale, zp, _ = _learned_range(-1.0, 1.0)
    with torch.no_grad():
        saved, y = _saved(FakeQuant.apply, torch.randn(100), scale, zp, -128, 127)
    assert saved == [] and y.grad_fn is None


def _train_step(arch: str, quant: dict, method: str) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """One QAT step of a smoke-size model from a fixed random float model: the output, every gradient and the
    bytes the forward kept for backward."""
    torch.manual_seed(0)
    mcfg = model_config(smoke_model(arch))
    float_model = build_model(mcfg)
    student, teacher = build_models(mcfg, quant_config({**quant, "calib_batches": 1}), method,
                                    float_model.state_dict())
    student.train()
    channels = mcfg.audio_channels
    g = torch.Generator().manual_seed(1)
    n = student.valid_length(1200)
    shape = (2, channels, n) if channels > 1 else (2, n)
    mixes = [torch.rand(shape, generator=g) * 1.2 - 0.6 for _ in range(2)]
    student(mixes[0])  # calibration batch: ranges observed
    saved, est = _saved(student, mixes[1])
    ref = torch.rand(est.shape, generator=g) - 0.5
    loss_name = "l1" if channels > 1 else "si_sdr"
    if teacher is not None:
        with torch.no_grad():
            teacher_est = teacher(mixes[1])
        loss = distillation_loss(loss_name)(est, teacher_est, ref, 0.1)
    else:
        loss = separation_loss(loss_name)(est, ref)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in student.named_parameters() if p.grad is not None}
    return est.detach(), grads, _distinct_bytes(saved)


CASES = [(a, "vanilla", FQSS_QUANT_NORM8) for a in ARCHITECTURES] + \
    [("convtasnet", "fqss", FQSS_QUANT_NORM8), ("convtasnet", "fqss", FQSS_QUANT), ("dprnn", "fqss", FQSS_QUANT),
     ("waveunet_lite", "fqss", FQSS_QUANT_NORM8)]


@pytest.mark.parametrize("arch,method,quant", CASES,
                         ids=[f"{a}-{m}-norm{q['norm_bits']}" for a, m, q in CASES])
def test_training_step_equals_the_composed_operations(arch, method, quant, monkeypatch):
    """A training step's output and every parameter's gradient, with the Function and with the operations."""
    out, grads, kept = _train_step(arch, quant, method)
    monkeypatch.setattr(quantizers, "fake_quant", fake_quant_ops)
    ref_out, ref_grads, ref_kept = _train_step(arch, quant, method)
    assert kept < 0.7 * ref_kept  # the operations ran the second time
    assert torch.equal(out, ref_out)
    assert grads.keys() == ref_grads.keys() and len(grads) > 0
    for k in grads:
        assert torch.equal(grads[k], ref_grads[k]), k
