"""Mixture-weight search algorithms: how the architecture parameters a (α = softmax(a)) are updated.

- DARTS (Liu et al., 2019): AdamW on a through the softmax.
- GAEA (Li et al., 2021): exponentiated gradient on the simplex, α ← α·exp(-η ∂L/∂α) / Z. On the logits
  this is a ← a - η ∂L/∂α, and ∂L/∂α = (∂L/∂a) / α up to a per-row constant, which softmax ignores.
- Gumbel-softmax: DARTS updates, but training forwards use a Gumbel-softmax sample of α
  (`MixtureWeights.gumbel_temperature`); evaluation uses α itself.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SearchConfig


class ExponentiatedGradient(torch.optim.Optimizer):
    """GAEA's update of softmax logits (rows on the last dimension)."""

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


def arch_optimizer(params: list[nn.Parameter], lr: float, search: SearchConfig) -> torch.optim.Optimizer:
    """The optimizer of the mixture weights for a search algorithm."""
    if search.algorithm == "gaea":
        return ExponentiatedGradient(params, lr=lr)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)


def set_gumbel(model: nn.Module, temperature: float | None) -> None:
    """Turn Gumbel-softmax sampling of α on (a temperature) or off (None) in every mixture of `model`."""
    from ..hybrid.mixture import MixtureWeights

    for module in model.modules():
        if isinstance(module, MixtureWeights):
            module.gumbel_temperature = temperature
