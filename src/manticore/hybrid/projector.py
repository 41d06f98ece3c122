"""Gated-residual projectors (paper, Appendix B.2).

    Proj-in_k(x; α)  = (1 - α) · Linear_{d_max -> d_k}(x) + α · Trunc(x; d_k)
    Proj-out_k(y; α) = (1 - α) · Linear_{d_k -> d_max}(y) + α · Pad(y; d_max)

α is the component's mixture weight in the Manticore block, so with α = 1 the projector is exactly
Trunc / Pad and the component's blocks see their own features.

Shapes: b = batch, t = sequence length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def trunc_or_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    """Trunc(x; width) or Pad(x; width): keep the first `width` features, or zero-pad up to `width`."""
    d = x.shape[-1]
    if d == width:
        return x
    return x[..., :width] if d > width else F.pad(x, (0, width - d))


class Projector(nn.Module):
    """(1 - α)·Linear(x) + α·Trunc/Pad(x), mapping (b, t, d_in) -> (b, t, d_out).

    The Linear starts as the Trunc/Pad matrix (identity on the shared features, zero bias) when
    `init="trunc_pad"`, so a new projector passes features through unchanged whatever α is;
    `init="normal"` draws it like any other Linear.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = True, init: str = "trunc_pad"):
        super().__init__()
        self.d_in, self.d_out, self.init = d_in, d_out, init
        self.linear = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, t, d_in); alpha: scalar tensor in [0, 1], or None for α = 1 (Trunc/Pad only, exactly)."""
        residual = trunc_or_pad(x, self.d_out)
        if alpha is None:
            return residual
        return (1 - alpha) * self.linear(x) + alpha * residual

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_out={self.d_out}, init={self.init!r}"
