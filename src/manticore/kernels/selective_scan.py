"""Mamba (v1) selective scan: the plain-PyTorch reference, and the dispatch to the fastest implementation.

The scan runs, independently for every batch row and channel, a linear recurrence over time on an
n-dimensional state whose decay and input depend on the token ("selective"):

    dt_t = softplus(delta_t + delta_bias)          (or delta_t + delta_bias without softplus)
    h_t  = exp(dt_t * A) * h_{t-1} + dt_t * u_t * B_t        h_0 = 0, elementwise over the state
    y_t  = <C_t, h_t> + D * u_t
    out  = y * silu(z)                                       (only when z is given)

Glossary of shape letters:

- b: batch size;
- d: channels (Mamba's d_inner = expand * d_model); every channel has its own recurrence;
- l: sequence length (time);
- n: state size per channel (Mamba's d_state, typically 16).

Arguments (same semantics as mamba_ssm's `selective_scan_fn` and transformers' `mamba_selective_scan`):
u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,). Returns (b, d, l),
and with return_last_state=True also the final state h_l, (b, d, n) in float32 (generation continues from it;
it carries no gradient).

`selective_scan` picks the fastest available implementation:

1. CUDA tensors with `mamba_ssm` installed: mamba_ssm's fused CUDA kernel; without it, the chunked
   PyTorch scan (`selective_scan_chunked`: parallel within chunks of 16 steps, sequential across them,
   activation-checkpointed per chunk, so memory is linear in length);
2. CPU tensors (float32, float16 or bfloat16; computed in float32) with numba installed: `_SelectiveScan`
   (selective_scan_cpu.py), an autograd Function over two numba kernels (numba_kernels.py, imported on first
   use), threaded, with a hand-written backward that recomputes states from sparse checkpoints, so memory is
   linear in length;
3. anything else (float64 on CPU, no numba): `selective_scan_ref`.

`scan_backend(*tensors)` says which one runs. The same equivalence tests check the numba and the chunked scans
against the reference on CPU (tests/kernels).
"""

from __future__ import annotations

import warnings

import torch

try:  # pragma: no cover - needs a CUDA machine with mamba_ssm
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _mamba_ssm_scan
except Exception:  # ImportError, or a broken CUDA build
    _mamba_ssm_scan = None

from .scan_inputs import check_shapes, compute_inputs, finish
from .selective_scan_chunked import selective_scan_chunked
from .selective_scan_cpu import _SelectiveScan, load_numba_kernels

__all__ = ["selective_scan", "selective_scan_ref", "selective_scan_chunked", "scan_backend"]


# ----------------------------------------------------------------------------------------------------------
# Reference
# ----------------------------------------------------------------------------------------------------------
def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False):
    """Plain-PyTorch selective scan, one time step at a time (slow; the definition the fast path must match).

    u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,) -> (b, d, l),
    and the final state (b, d, n) with return_last_state=True. Computes in float32 (float64 if u is float64)
    and returns u's dtype (the state stays in the compute dtype).
    """
    check_shapes(u, delta, A, B, C, D, z, delta_bias)
    dt, u_, A_, B_, C_ = compute_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    h = u_.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (b, d, n)
    ys = []
    for t in range(u.shape[2]):
        dt_t = dt[:, :, t, None]  # (b, d, 1)
        h = torch.exp(dt_t * A_) * h + dt_t * u_[:, :, t, None] * B_[:, None, :, t]
        ys.append((h * C_[:, None, :, t]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=-1) if ys else u_.new_zeros(u.shape)
    return finish(y, h, u, u_, D, z, return_last_state)


# ----------------------------------------------------------------------------------------------------------
# Dispatch
# ----------------------------------------------------------------------------------------------------------
_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_warned_no_numba = False


def _is_cuda(tensor: torch.Tensor) -> bool:
    return tensor.is_cuda


def scan_backend(*tensors: torch.Tensor | None) -> str:
    """Which implementation `selective_scan` runs on these argument tensors:

    'mamba_ssm' (CUDA, mamba_ssm importable), 'chunked' (CUDA without it: `selective_scan_chunked`), 'numba'
    (CPU tensors of float32, float16 or bfloat16, numba installed) or 'reference' (anything else, e.g. float64).
    """
    present = [t for t in tensors if t is not None]
    if all(_is_cuda(t) for t in present):
        return "mamba_ssm" if _mamba_ssm_scan is not None else "chunked"
    on_cpu = all(t.device.type == "cpu" for t in present)
    if on_cpu and all(t.dtype in _FAST_DTYPES for t in present):
        if load_numba_kernels() is not None:
            return "numba"
        global _warned_no_numba
        if not _warned_no_numba:  # pragma: no cover - numba is a dependency
            warnings.warn("numba is not installed: selective_scan falls back to the slow reference", stacklevel=3)
            _warned_no_numba = True
    return "reference"


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    """Selective scan with the fastest implementation available (see the module docstring and `scan_backend`).

    u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,) -> (b, d, l)
    in u's dtype, and with return_last_state=True also the final state (b, d, n), float32. Differentiable in
    every tensor argument (the final state is not).
    """
    check_shapes(u, delta, A, B, C, D, z, delta_bias)
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    backend = scan_backend(u, delta, A, B, C, D, z, delta_bias)
    if backend == "mamba_ssm":  # pragma: no cover - needs CUDA and mamba_ssm
        return _mamba_ssm_scan(*args)
    if backend == "chunked":
        return selective_scan_chunked(*args)
    if backend == "reference" or u.shape[2] == 0:
        return selective_scan_ref(*args)
    return _SelectiveScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), bool(return_last_state))
