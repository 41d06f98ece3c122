"""Gated-residual projectors (paper, Appendix B.2).

    Proj-in_k(x; α)  = (1 - α) · Linear_{d_max -> d_k}(x) + α · Trunc(x; d_k)
    Proj-out_k(y; α) = (1 - α) · Linear_{d_k -> d_max}(y) + α · Pad(y; d_max)

α is the component's mixture weight in the Manticore block, so with α = 1 the projector is exactly
Trunc / Pad and the component's blocks see their own features.

Trunc/Pad is a linear map too (the matrix E = eye(d_out, d_in)), so for a fixed α the projector is one Linear
with weight (1 - α)·W + α·E and bias (1 - α)·b. `folded` builds those (optionally scaled, so the Manticore
block can fold α_k · Proj-out_k into them as well); generation keeps them in its `ManticoreCache` for the
length of one `generate` call, which makes a decode step one matrix product per projector.

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

    def forward(self, x: torch.Tensor, alpha: torch.Tensor | float | None = None) -> torch.Tensor:
        """x: (b, t, d_in); alpha: a 0-d tensor or float in [0, 1], or None for α = 1 (Trunc/Pad only, exactly)."""
        residual = trunc_or_pad(x, self.d_out)
        if alpha is None:
            return residual
        out = self.linear(x)
        if isinstance(alpha, torch.Tensor):  # lerp wants one dtype (autocast may have lowered the Linear's)
            alpha = alpha.to(out.dtype)
        return torch.lerp(out, residual.to(out.dtype), alpha)  # (1 - α)·Linear(x) + α·residual, in one op

    def foldable(self) -> bool:
        """Whether `folded` stands for this projector exactly: a plain nn.Linear (not an adapter, a quantised or
        offloaded layer) without hooks, whose weights are materialised."""
        linear = self.linear
        return (type(linear) is nn.Linear and not linear._forward_hooks and not linear._forward_pre_hooks
                and linear.weight.device.type != "meta")

    @torch.no_grad()
    def folded(self, alpha: float, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight (d_out, d_in), bias (d_out,) or None) of scale · Proj(·; α) as one Linear, without gradient,
        for the Linear's current weights (the caller keeps them only while those can't change)."""
        weight, bias = self.linear.weight, self.linear.bias
        trunc_pad = torch.eye(self.d_out, self.d_in, dtype=weight.dtype, device=weight.device)
        folded_bias = None if bias is None else bias * ((1 - alpha) * scale)
        return torch.lerp(weight, trunc_pad, alpha) * scale, folded_bias

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_out={self.d_out}, init={self.init!r}"
