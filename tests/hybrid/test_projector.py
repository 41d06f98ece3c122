"""Projectors: (1-α)·Linear(x) + α·Trunc/Pad(x) (paper, Appendix B.2)."""

import torch

from manticore.hybrid import Projector
from manticore.hybrid.projector import trunc_or_pad


def test_trunc_and_pad():
    x = torch.arange(6.0).reshape(1, 1, 6)
    assert torch.equal(trunc_or_pad(x, 4), x[..., :4])
    padded = trunc_or_pad(x, 8)
    assert torch.equal(padded[..., :6], x) and torch.equal(padded[..., 6:], torch.zeros(1, 1, 2))


def test_gated_residual_formula():
    torch.manual_seed(0)
    proj = Projector(8, 4, init="normal")
    torch.nn.init.normal_(proj.linear.weight)
    x = torch.randn(2, 3, 8)
    alpha = torch.tensor(0.3)
    want = 0.7 * proj.linear(x) + 0.3 * x[..., :4]
    assert torch.allclose(proj(x, alpha), want, atol=1e-6)
    assert torch.equal(proj(x, None), x[..., :4])  # α = 1: exactly Trunc
