"""Mamba (v1) selective scan in plain PyTorch, chunked: the GPU path when mamba_ssm is not installed.

The same recurrence as `selective_scan_ref` (see selective_scan.py), computed PARALLEL_STEPS time steps (a chunk)
at a time:

- within a chunk, in parallel: with the log-decays a_t = dt_t * A (b, d, n) and their running sums
  S_t = a_1 + ... + a_t, the states are h_t = exp(S_t) * h_0 + sum_{s <= t} exp(S_t - S_s) * dt_s u_s B_s; the
  weights exp(S_t - S_s) for all (t, s) of the chunk, (b, d, T, T, n), come from one cumsum, one difference and
  one exp (differences of running sums: with dt >= 0 and A < 0 they are <= 0, so nothing overflows), and the
  outputs y_t = <C_t, h_t> from one product and sum;
- across chunks, sequentially: the last state of a chunk, (b, d, n), starts the next.

So a sequence of length l takes l / PARALLEL_STEPS sequential steps of a few large kernels each, instead of the
reference's l steps of several small ones. Each chunk runs under activation checkpointing: autograd keeps only
the chunk's inputs and the state it started from, and the backward recomputes one chunk at a time. Memory is
linear in length: O(b*d*l + b*d*n*l/PARALLEL_STEPS) kept for backward, plus one chunk's O(b*d*PARALLEL_STEPS^2*n)
while it runs; nothing of size b*d*l*n is stored.

Computes in float32 (float64 for float64 inputs) and returns u's dtype, as the reference does.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from .scan_inputs import compute_inputs, finish

__all__ = ["selective_scan_chunked", "PARALLEL_STEPS"]

PARALLEL_STEPS = 16  # time steps computed in parallel (a chunk); its weights take b * d * PARALLEL_STEPS^2 * n numbers


def _chunk(h0: torch.Tensor, dt: torch.Tensor, u: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
           C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk from state h0: h0 (b, d, n); dt, u (b, d, T); A (d, n); B, C (b, n, T) -> y (b, d, T), h_T (b, d, n)."""
    T = dt.shape[-1]
    log_decay = dt[..., None] * A[:, None, :]  # (b, d, T, n)
    running = log_decay.cumsum(2)  # S_t
    inputs = (dt * u)[..., None] * B.transpose(1, 2)[:, None]  # (b, d, T, n): dt_s u_s B_s
    causal = torch.ones(T, T, dtype=torch.bool, device=dt.device).tril()  # [t, s]: s <= t
    gaps = running[:, :, :, None] - running[:, :, None]  # (b, d, T, T, n): S_t - S_s
    weights = torch.exp(gaps.masked_fill(~causal[:, :, None], float("-inf")))
    states = (weights * inputs[:, :, None]).sum(3) + torch.exp(running) * h0[:, :, None]  # (b, d, T, n)
    y = (states * C.transpose(1, 2)[:, None]).sum(-1)  # (b, d, T)
    return y, states[:, :, -1]


def selective_scan_chunked(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                           return_last_state=False, chunk: int = PARALLEL_STEPS):
    """The selective scan, `chunk` steps at a time (see the module docstring); arguments as `selective_scan`.

    u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,) -> (b, d, l) in
    u's dtype, and with return_last_state=True also the final state (b, d, n) in the compute dtype, without
    gradient. Differentiable in every tensor argument through autograd.
    """
    if not (isinstance(chunk, int) and chunk > 0):
        raise ValueError(f"chunk={chunk!r} is not valid; accepted: a positive integer.")
    dt, u_, A_, B_, C_ = compute_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    b, d, l = u.shape
    h = u_.new_zeros(b, d, A.shape[1])
    recompute = torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, A, B, C, delta_bias)
                                                if t is not None)
    ys = []
    for start in range(0, l, chunk):
        piece = (h, dt[..., start:start + chunk], u_[..., start:start + chunk], A_, B_[..., start:start + chunk],
                 C_[..., start:start + chunk])
        y, h = checkpoint(_chunk, *piece, use_reentrant=False) if recompute else _chunk(*piece)
        ys.append(y)
    y = torch.cat(ys, dim=-1) if ys else u_.new_zeros(u.shape)
    return finish(y, h, u, u_, D, z, return_last_state)
