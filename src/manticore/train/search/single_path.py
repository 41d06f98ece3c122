"""Single-path one-shot search (Guo et al., 2020, "Single Path One-Shot Neural Architecture Search with Uniform
Sampling"): every training step runs one layout, drawn uniformly per block, so the shared weights learn every
layout of the space and none is favoured for lowering the loss first; α does not train. The search then
chooses by comparing the layouts on the validation split (`search.select: validation`, which it needs).

A step runs one branch per block (the others have weight exactly 0 and are skipped), so it costs about one
component's step, not the whole mixture's.
"""

from __future__ import annotations

from .base import SearchAlgorithm


class SinglePath(SearchAlgorithm):
    """Uniform single-path sampling: each forward's α is one-hot, its component drawn uniformly per block among
    the branches not already at exactly zero."""

    name = "single-path"
    learns_alphas = False

    def sample(self, logits):
        import torch

        usable = (logits.detach() > float("-inf")).float()  # (L, K)
        choice = torch.multinomial(usable, 1)  # (L, 1): one component per block
        return torch.zeros_like(usable).scatter_(1, choice, 1.0)
