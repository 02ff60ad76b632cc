import math

import torch

from fqss_edge.train.losses import l1_loss, pit_neg_si_sdr, sakd_l1_loss, sakd_loss, si_sdr_linear


def test_pit_loss_is_permutation_invariant():
    ref = torch.randn(3, 2, 400)
    est = ref + 0.1 * torch.randn_like(ref)
    assert torch.allclose(pit_neg_si_sdr(est, ref), pit_neg_si_sdr(est.flip(1), ref))


def test_sakd_matches_its_formula():
    torch.manual_seed(0)
    s = torch.randn(2, 2, 300)
    f = s + 0.1 * torch.randn_like(s)
    q = s + 0.3 * torch.randn_like(s)
    lam = 0.1
    q_s, f_s, q_f = si_sdr_linear(q, s), si_sdr_linear(f, s), si_sdr_linear(q, f)
    w = q_s / f_s
    expected = -10 * math.log10((1 - lam) * float(q_s.mean()) + lam * float((w * q_f).mean()) + 1e-8)
    assert abs(float(sakd_loss(q, f, s, lam)) - expected) < 1e-4
    # swapped student outputs give the same loss (PIT)
    assert abs(float(sakd_loss(q.flip(1), f, s, lam)) - expected) < 1e-4


def test_sakd_with_lambda_zero_is_linear_si_sdr_loss_and_has_no_teacher_gradient():
    s = torch.randn(1, 2, 200)
    f = (s + 0.05 * torch.randn_like(s)).requires_grad_(True)
    q = (s + 0.2 * torch.randn_like(s)).requires_grad_(True)
    loss = sakd_loss(q, f, s, 0.0)
    assert abs(float(loss) + 10 * math.log10(float(si_sdr_linear(q, s).mean()))) < 1e-4
    loss.backward()
    assert f.grad is None and q.grad is not None


def _sdr_db(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(ref.pow(2).sum(-1) / (ref - est).pow(2).sum(-1))


def test_sakd_l1_matches_its_formula_and_keeps_the_source_order():
    """FQSS_METHOD.md's music loss: w = exp((SDR_f - SDR_q) / 10), L = (1 - lam) L1(q, s) + lam mean(w L1(q, f)),
    computed here by hand on [B, S * C, T] rows (stereo stems); sources are named: swapping them changes the loss."""
    torch.manual_seed(1)
    s = torch.randn(2, 8, 300)
    f = s + 0.1 * torch.randn_like(s)
    q = s + 0.3 * torch.randn_like(s)
    lam = 0.1
    w = torch.exp((_sdr_db(f, s) - _sdr_db(q, s)) / 10)
    expected = (1 - lam) * (q - s).abs().mean() + lam * (w * (q - f).abs().mean(-1)).mean()
    assert abs(float(sakd_l1_loss(q, f, s, lam)) - float(expected)) < 1e-6
    assert float(w.min()) > 1.0  # the teacher is better on every row: every weight > 1
    assert abs(float(l1_loss(q, s)) - float((q - s).abs().mean())) < 1e-7
    assert float(l1_loss(q.flip(1), s)) > 2 * float(l1_loss(q, s))


def test_sakd_l1_has_no_teacher_gradient_and_lambda_zero_is_l1():
    s = torch.randn(1, 4, 200)
    f = (s + 0.05 * torch.randn_like(s)).requires_grad_(True)
    q = (s + 0.2 * torch.randn_like(s)).requires_grad_(True)
    loss = sakd_l1_loss(q, f, s, 0.0)
    assert abs(float(loss) - float(l1_loss(q, s))) < 1e-7
    sakd_l1_loss(q, f, s, 0.1).backward()
    assert f.grad is None and q.grad is not None
