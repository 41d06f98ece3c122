"""The Manticore block (paper, Appendix B.4): mixes block group l of every component.

    Manticore-Block^(l)(x) = Σ_k α_k · h_k(x),  h_k = Proj-out_k ∘ (component k's blocks in group l) ∘ Proj-in_k

Branches with α_k = 0 exactly are not computed (their term is exactly zero). With α_k = 1 exactly, both
projectors reduce to Trunc/Pad, so their Linear is skipped and the block reproduces component k's group.

Shapes: b = batch, t = sequence length, D = d_max.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..components.base import ComponentAdapter
from .projector import Projector


class ManticoreBlock(nn.Module):
    """Projectors for one block group of each component; the components themselves are passed in.

    groups: for each component k, the range [start, stop) of its blocks that this Manticore block runs.
    """

    def __init__(
        self,
        d_max: int,
        widths: Sequence[int],
        groups: Sequence[tuple[int, int]],
        projector_bias: bool = True,
        projector_init: str = "trunc_pad",
    ):
        super().__init__()
        self.groups = [tuple(g) for g in groups]
        self.proj_in = nn.ModuleList(Projector(d_max, d, projector_bias, projector_init) for d in widths)
        self.proj_out = nn.ModuleList(Projector(d, d_max, projector_bias, projector_init) for d in widths)

    def forward(
        self,
        x: torch.Tensor,
        alphas: torch.Tensor,
        components: Sequence[ComponentAdapter],
        contexts: Sequence[dict[str, Any]],
    ) -> torch.Tensor:
        """x: (b, t, D); alphas: (K,) on the simplex -> (b, t, D)."""
        out = None
        for k, weight in enumerate(alphas.tolist()):
            if weight == 0.0:
                continue  # a zero-weight branch contributes exactly nothing
            h = self.branch(k, x, None if weight == 1.0 else alphas[k], components[k], contexts[k])
            term = h if weight == 1.0 else alphas[k] * h
            out = term if out is None else out + term
        return out

    def branch(
        self, k: int, x: torch.Tensor, alpha: torch.Tensor | None, component: ComponentAdapter, context
    ) -> torch.Tensor:
        """h_k(x; α_k): (b, t, D) -> (b, t, D). alpha None means α_k = 1 (projectors are Trunc/Pad)."""
        start, stop = self.groups[k]
        h = self.proj_in[k](x, alpha)
        h = component.run_blocks(h, start, stop, context)
        return self.proj_out[k](h, alpha)

    def extra_repr(self) -> str:
        return "groups=" + ", ".join(f"k{k}:[{a},{b})" for k, (a, b) in enumerate(self.groups))
