"""Optimizers of mixture weights that torch does not ship."""

from __future__ import annotations

import torch


class ExponentiatedGradient(torch.optim.Optimizer):
    """Exponentiated gradient on the simplex (GAEA, Li et al., 2021), as an update of softmax logits.

    α ← α·exp(-η ∂L/∂α) / Z on the simplex is a ← a - η ∂L/∂α on the logits (rows on the last dimension),
    and ∂L/∂α = (∂L/∂a) / α up to a per-row constant, which softmax ignores. Zero weights (a = -inf) stay 0.
    """

    def __init__(self, params, lr: float):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for logits in group["params"]:
                if logits.grad is None:
                    continue
                alpha = torch.softmax(logits, dim=-1)
                grad_alpha = torch.where(alpha > 0, logits.grad / alpha.clamp_min(1e-30), torch.zeros_like(alpha))
                logits.sub_(group["lr"] * grad_alpha)
                finite = torch.isfinite(logits)
                logits.sub_(torch.where(finite, logits, -torch.inf).amax(-1, keepdim=True))  # keep a bounded
