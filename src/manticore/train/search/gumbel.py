"""Gumbel-softmax search (Xie et al., 2019): DARTS' updates; each training forward uses a sample
α ~ Gumbel-softmax(a, temperature)."""

from __future__ import annotations

from dataclasses import dataclass

from ...checks import check
from .base import SearchAlgorithm


@dataclass
class GumbelHyperparameters:
    temperature: float = 1.0
    """τ of the Gumbel-softmax samples softmax((a + g) / τ), g ~ Gumbel(0, 1)."""

    def __post_init__(self):
        check(self.temperature > 0, "search.hyperparameters.temperature", self.temperature, "a number > 0")


class GumbelSoftmax(SearchAlgorithm):
    """DARTS' updates; each training forward uses a Gumbel-softmax sample of α (zeros stay exactly 0)."""

    name = "gumbel"
    Hyperparameters = GumbelHyperparameters

    def sample(self, logits):
        import torch

        gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-10, 1 - 1e-7)))
        return torch.softmax((logits + gumbel) / self.hyperparameters.temperature, dim=-1)
