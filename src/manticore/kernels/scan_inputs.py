"""What every selective scan shares: checking the arguments' shapes, preparing its inputs in the compute dtype,
and finishing its output (skip connection D and gate z). Shape letters as in `selective_scan` (b, d, l, n).

The reference (`selective_scan.py`), the chunked scan (`selective_scan_chunked.py`) and the CPU path
(`selective_scan_cpu.py`) all import it, so none of them imports another for these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_shapes(u, delta, A, B, C, D, z, delta_bias) -> None:
    """Raise ValueError unless u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,)."""
    if u.dim() != 3:
        raise ValueError(f"u must be (b, d, l), got shape {tuple(u.shape)}")
    b, d, l = u.shape
    if delta.shape != u.shape:
        raise ValueError(f"delta must have u's shape (b, d, l) = {tuple(u.shape)}, got {tuple(delta.shape)}")
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"A must be (d, n) with d = {d}, got shape {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if t.shape != (b, n, l):
            raise ValueError(
                f"{name} must be (b, n, l) = {(b, n, l)} (input-dependent, one group), got {tuple(t.shape)}"
            )
    if D is not None and D.shape != (d,):
        raise ValueError(f"D must be (d,) = ({d},), got {tuple(D.shape)}")
    if delta_bias is not None and delta_bias.shape != (d,):
        raise ValueError(f"delta_bias must be (d,) = ({d},), got {tuple(delta_bias.shape)}")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"z must have u's shape (b, d, l) = {tuple(u.shape)}, got {tuple(z.shape)}")


def compute_inputs(u, delta, A, B, C, delta_bias, delta_softplus):
    """The scan's inputs in the compute dtype (float32, float64 for float64 u): dt (softplus(delta + bias) or
    delta + bias), u, A, B, C."""
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    dt = delta.to(work)  # (b, d, l)
    if delta_bias is not None:
        dt = dt + delta_bias.to(work)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    return dt, u.to(work), A.to(work), B.to(work), C.to(work)


def finish(y, h, u, u_, D, z, return_last_state):
    """y + D * u, gated by silu(z), in u's dtype; and the last state h (no gradient) with return_last_state."""
    if D is not None:
        y = y + u_ * D.to(u_.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(u_.dtype))
    return (y.to(u.dtype), h.detach()) if return_last_state else y.to(u.dtype)
