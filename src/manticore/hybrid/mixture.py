"""Mixture weights (paper, Appendix B.3): α^(l) = softmax(a^(l)) over the K components, one row per block.

The parameters `a` have shape (L, K). Programmed or discretized weights may contain exact zeros: they are
stored as a = log(w), i.e. -inf, so softmax gives exactly 0 and the branch can be skipped, and a one-hot
row gives exactly 1 for its component.

A pruned hybrid (`discretize`) has branches whose group is empty: their weight must stay exactly 0, so `set`
refuses non-zero weight on them and they start at -inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn


class Mixture(NamedTuple):
    """α for one forward: the (L, K) tensor, its values on the host, and which components have weight in some
    block (so their blocks run)."""

    alphas: torch.Tensor
    weights: list[list[float]]
    active: list[bool]


class MixtureWeights(nn.Module):
    """The architecture parameters of a hybrid: logits `a` of shape (L, K)."""

    def __init__(self, num_blocks: int, num_components: int, pruned: list[list[bool]] | None = None):
        """pruned: (L, K), True where component k's group in block l is empty; None when nothing is pruned."""
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_blocks, num_components))
        self.pruned = pruned if pruned is not None and any(any(row) for row in pruned) else None

    def initial_logits(self) -> torch.Tensor:
        """(L, K) logits of the initial α: uniform over each block's branches that aren't pruned."""
        logits = torch.zeros(self.shape)
        if self.pruned is not None:
            logits[torch.tensor(self.pruned)] = float("-inf")
        return logits

    def check_pruned(self, alphas: torch.Tensor | list[list[float]]) -> None:
        """Raise a ValueError if α (L, K), a tensor or its values, puts non-zero weight on a pruned branch."""
        if self.pruned is None:
            return
        values = alphas.detach().tolist() if isinstance(alphas, torch.Tensor) else alphas
        bad = [(l, k, values[l][k]) for l, row in enumerate(self.pruned) for k, p in enumerate(row)
               if p and values[l][k] != 0]
        if bad:
            where = ", ".join(f"block {l} component {k} (weight {w:.6g})" for l, k, w in bad)
            raise ValueError(
                f"Mixture weight on a pruned branch: {where}. That component's layers in that block were removed "
                "(discretize), so its weight there must be exactly 0."
            )

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.logits.shape)

    def forward(self, sampler: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """α: (L, K), each row on the probability simplex: softmax(a), or sampler(a) when given.

        A search algorithm passes its sampler for training forwards (e.g. Gumbel-softmax samples,
        manticore.train.search); without one, α is deterministic.
        """
        if sampler is not None:
            return sampler(self.logits)
        return torch.softmax(self.logits, dim=-1)

    @torch.compiler.disable  # reads α on the host: runs eagerly, one graph break per forward at any L
    def resolve(self, sampler: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Mixture:
        """α for a forward (see `forward`), its values on the host (read once per forward), checked against
        pruning, and which components have weight in some block."""
        alphas = self(sampler)
        weights = alphas.detach().tolist()
        bad = [l for l, row in enumerate(weights) if not all(math.isfinite(w) for w in row)]
        if bad:
            raise ValueError(f"The mixture weights of block(s) {bad} are not finite ({[weights[l] for l in bad]}): their "
                             "logits are NaN or all -inf. Set them again with set_mixture_weights.")
        self.check_pruned(weights)
        return Mixture(alphas, weights, [any(row[k] > 0 for row in weights) for k in range(len(weights[0]))])

    @torch.no_grad()
    def set(self, weights) -> None:
        """Set α from weights of shape (K,) (every block) or (L, K); rows must be >= 0 and sum to 1."""
        self.logits.copy_(torch.log(self.validate(weights)))

    def validate(self, weights) -> torch.Tensor:
        """Return weights as a float (L, K) tensor, or raise a ValueError saying what is wrong."""
        num_blocks, num_components = self.shape
        try:
            w = torch.as_tensor(weights, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"Mixture weights must be numbers of shape ({num_components},) or "
                             f"({num_blocks}, {num_components}); could not read {weights!r}: {err}") from None
        if w.shape == (num_components,):
            w = w.expand(num_blocks, num_components)
        if w.shape != (num_blocks, num_components):
            raise ValueError(
                f"Mixture weights have shape {tuple(w.shape)}; accepted shapes are ({num_components},) for the "
                f"same weights in every block, or ({num_blocks}, {num_components}) for L={num_blocks} blocks "
                f"and K={num_components} components."
            )
        if not torch.isfinite(w).all():
            raise ValueError(f"Mixture weights must be finite, got {w.tolist()}.")
        if (w < 0).any():
            raise ValueError(f"Mixture weights must be >= 0 (exact zeros are allowed), got {w.tolist()}.")
        sums = w.sum(-1)
        bad = (sums - 1).abs() > 1e-5
        if bad.any():
            rows = bad.nonzero().flatten().tolist()
            raise ValueError(
                f"Each block's mixture weights must sum to 1; block(s) {rows} sum to "
                f"{[round(s, 6) for s in sums[bad].tolist()]}."
            )
        w = w / sums[:, None]
        self.check_pruned(w)
        return w.to(self.logits.dtype)

    def freeze(self) -> None:
        self.logits.requires_grad_(False)

    def unfreeze(self) -> None:
        self.logits.requires_grad_(True)
