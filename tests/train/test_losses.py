import math

import torch

from fqss_edge.train.losses import pit_neg_si_sdr, sakd_loss, si_sdr_linear


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
