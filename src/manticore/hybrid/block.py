"""The Manticore block (paper, Appendix B.4): mixes block group l of every component.

    Manticore-Block^(l)(x) = Σ_k α_k · h_k(x),  h_k = Proj-out_k ∘ (component k's blocks in group l) ∘ Proj-in_k

Branches with α_k = 0 exactly are not computed (their term is exactly zero). With α_k = 1 exactly, both
projectors reduce to Trunc/Pad, so their Linear is skipped and the block reproduces component k's group.
In generation (a cache is given, nothing records gradients, α is fixed), each projector runs as one folded
Linear, with α_k folded into Proj-out_k (see `Projector.folded`); the cache keeps the folds for its lifetime.
A pruned branch (an empty group, from `discretize`) has no projectors and its α_k is always 0.

Shapes: b = batch, t = sequence length, D = d_max.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from ..components.base import ComponentAdapter
from .projector import Projector, trunc_or_pad


class PrunedProjector(nn.Module):
    """Stands in for the projectors of a pruned branch (an empty group): no parameters, never run."""

    def forward(self, x: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
        raise RuntimeError("A pruned branch was run: its mixture weight must be 0.")


class ManticoreBlock(GradientCheckpointingLayer):
    """Projectors for one block group of each component; the components themselves are passed in.

    groups: for each component k, the range [start, stop) of its blocks that this Manticore block runs;
        an empty range is a pruned branch (no projectors).
    firsts / lasts: for each component k, whether this block's group holds component k's original first layer
        (so it applies the positional embedding) / last layer (so it applies the final norm).
    """

    def __init__(
        self,
        d_max: int,
        widths: Sequence[int],
        groups: Sequence[tuple[int, int]],
        projector_bias: bool = True,
        projector_init: str = "trunc_pad",
        *,
        firsts: Sequence[bool],
        lasts: Sequence[bool],
    ):
        super().__init__()
        self.groups = [tuple(g) for g in groups]
        self.widths = [int(d) for d in widths]
        self.firsts, self.lasts = [bool(f) for f in firsts], [bool(f) for f in lasts]
        kept = [start != stop for start, stop in self.groups]
        self.proj_in = nn.ModuleList(
            Projector(d_max, d, projector_bias, projector_init) if on else PrunedProjector()
            for d, on in zip(widths, kept)
        )
        self.proj_out = nn.ModuleList(
            Projector(d, d_max, projector_bias, projector_init) if on else PrunedProjector()
            for d, on in zip(widths, kept)
        )

    def forward(
        self,
        x: torch.Tensor,
        alphas: Sequence[torch.Tensor | float],
        weights: Sequence[float],
        components: Sequence[ComponentAdapter],
        contexts: Sequence[dict[str, Any]],
        folds: dict | None = None,
    ) -> torch.Tensor:
        """x: (b, t, D) -> (b, t, D).

        alphas: the K mixture weights on the simplex as used in the math: 0-d tensors when α is trained (so the
        gradient reaches it), or plain floats when it needs none (fewer ops per step, e.g. in generation).
        weights: their values on the host, which decide which branches run and which are exactly 1 (the caller
        reads them once per forward, not once per block).
        folds: where to keep folded projectors (a generation's ManticoreCache), or None not to fold.
        """
        out = None
        for k, weight in enumerate(weights):
            if weight == 0.0:
                continue  # a zero-weight branch contributes exactly nothing
            alpha = None if weight == 1.0 else alphas[k]
            if folds is not None and isinstance(alpha, float) and self.foldable(k):
                term = self.folded_branch(k, x, alpha, components[k], contexts[k], folds)
            else:
                h = self.branch(k, x, alpha, components[k], contexts[k])
                term = h if alpha is None else alpha * h
            out = term if out is None else out + term
        return out

    def branch(
        self, k: int, x: torch.Tensor, alpha: torch.Tensor | float | None, component: ComponentAdapter, context
    ) -> torch.Tensor:
        """h_k(x; α_k): (b, t, D) -> (b, t, D). alpha None means α_k = 1 (projectors are Trunc/Pad)."""
        start, stop = self.groups[k]
        if alpha is None:  # Trunc/Pad only: no module call needed
            h = trunc_or_pad(x, self.widths[k])
        else:
            h = self.proj_in[k](x, alpha)
        h = component.run_blocks(h, start, stop, context, first=self.firsts[k], last=self.lasts[k])
        if h.dtype != x.dtype:  # back to the hybrid's dtype: Mamba keeps its residual stream in fp32
            h = h.to(x.dtype)
        return trunc_or_pad(h, x.shape[-1]) if alpha is None else self.proj_out[k](h, alpha)

    def foldable(self, k: int) -> bool:
        """Whether branch k's projectors can run folded: no gradient is recorded and both are plain Linears."""
        return not torch.is_grad_enabled() and self.proj_in[k].foldable() and self.proj_out[k].foldable()

    def folded_branch(self, k: int, x: torch.Tensor, alpha: float, component: ComponentAdapter, context,
                      folds: dict) -> torch.Tensor:
        """α_k · h_k(x; α_k) with both projectors as single folded Linears, kept in `folds`: (b, t, D) -> (b, t, D)."""
        key = (id(self), k, alpha)
        if key not in folds:
            folds[key] = (self.proj_in[k].folded(alpha), self.proj_out[k].folded(alpha, scale=alpha))
        fold_in, fold_out = folds[key]
        start, stop = self.groups[k]
        h = F.linear(x, *fold_in)
        h = component.run_blocks(h, start, stop, context, first=self.firsts[k], last=self.lasts[k])
        return F.linear(h.to(x.dtype), *fold_out)

    def extra_repr(self) -> str:
        return "groups=" + ", ".join(f"k{k}:[{a},{b})" if a != b else f"k{k}:pruned" for k, (a, b) in enumerate(self.groups))
