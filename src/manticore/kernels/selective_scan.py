"""Mamba (v1) selective scan: a plain-PyTorch reference and a fast CPU kernel with a hand-written backward.

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
2. CPU tensors (float32, float16 or bfloat16; computed in float32) with numba installed: `_SelectiveScan`,
   an autograd Function over two numba kernels (module `selective_scan_cpu`, imported on first use) whose
   jobs, (batch row, block of channels), are shared out between torch.get_num_threads() threads (the
   kernels release the GIL). The forward scan keeps only the state before every `CHUNK`-th step,
   (b, l / CHUNK, n, d); the backward recomputes one chunk's states at a time from its checkpoint and walks
   back through them (reverse-time scan) for the gradients. Memory is O(b*d*l + b*d*n*l/CHUNK): nothing of
   size b*d*l*n is stored, so l = 16384 is fine. The kernels run time-major, (b, l, d), vectorised over
   contiguous channels, with an exp written in plain arithmetic so that it vectorises too;
3. anything else (float64 on CPU, no numba): `selective_scan_ref`.

`scan_backend(*tensors)` says which one runs. The same equivalence tests check the numba and the chunked scans
against the reference on CPU (tests/kernels).
"""

from __future__ import annotations

import functools
import itertools
import threading
import warnings

import numpy as np
import torch
import torch.nn.functional as F

try:  # pragma: no cover - needs a CUDA machine with mamba_ssm
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _mamba_ssm_scan
except Exception:  # ImportError, or a broken CUDA build
    _mamba_ssm_scan = None

from .selective_scan_chunked import selective_scan_chunked

__all__ = ["selective_scan", "selective_scan_ref", "selective_scan_chunked", "scan_backend", "CHUNK"]

CHUNK = 32  # steps between stored states; the backward recomputes at most this many states at a time


# ----------------------------------------------------------------------------------------------------------
# Shared argument handling
# ----------------------------------------------------------------------------------------------------------
def _check_shapes(u, delta, A, B, C, D, z, delta_bias) -> None:
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
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    dt, u_, A_, B_, C_ = compute_inputs(u, delta, A, B, C, delta_bias, delta_softplus)
    h = u_.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (b, d, n)
    ys = []
    for t in range(u.shape[2]):
        dt_t = dt[:, :, t, None]  # (b, d, 1)
        h = torch.exp(dt_t * A_) * h + dt_t * u_[:, :, t, None] * B_[:, None, :, t]
        ys.append((h * C_[:, None, :, t]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=-1) if ys else u_.new_zeros(u.shape)
    return finish(y, h, u, u_, D, z, return_last_state)


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


# ----------------------------------------------------------------------------------------------------------
# Fast CPU path: the numba kernels (selective_scan_cpu), run over threads by an autograd Function
# ----------------------------------------------------------------------------------------------------------
@functools.cache
def cpu_kernels():
    """The numba kernels (module `selective_scan_cpu`), or None without numba.

    Imported on the first call, so that importing manticore doesn't import numba (a few tenths of a second);
    numba compiles the kernels on their first run, or loads them from its on-disk cache.
    """
    try:
        from . import selective_scan_cpu
    except ImportError:  # pragma: no cover - numba is a dependency; without it the reference runs
        return None
    return selective_scan_cpu


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _threads() -> int:
    """As many threads as torch uses: torch.set_num_threads governs the scan too."""
    return max(1, torch.get_num_threads())


def _width(b: int, d: int, n: int, threads: int) -> int:
    """Channels per kernel job: wide enough for long vector loops (256 runs about twice as fast per element as
    64), narrow enough for a job per thread and for a job's recomputed states, 2 * (CHUNK + 1) * n * width
    floats, to stay in a core's cache."""
    width = 256
    while width > 16 and (b * -(-d // width) < threads or width * n > 4096):
        width //= 2
    return width


def _run(kernel, jobs: int, threads: int, *args) -> None:
    """kernel(job0, job1, *args) over jobs [0, jobs), on `threads` threads (the kernels release the GIL).

    Jobs go out in about 4 ranges per thread, each thread taking the next range when it is done with one, so
    that a thread slowed down by another process on the machine does not hold up the others.
    """
    if threads <= 1 or jobs <= 1:
        kernel(0, jobs, *args)
        return
    ranges = min(jobs, 4 * threads)
    bounds = [jobs * i // ranges for i in range(ranges + 1)]
    taken = itertools.count()
    lock = threading.Lock()
    errors = []

    def take() -> int:
        with lock:
            return next(taken)

    def work():
        try:
            while (i := take()) < ranges:
                kernel(bounds[i], bounds[i + 1], *args)
        except BaseException as err:  # pragma: no cover - re-raised below
            errors.append(err)

    helpers = [threading.Thread(target=work, daemon=True) for _ in range(min(threads, ranges) - 1)]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if errors:  # pragma: no cover
        raise errors[0]


class _SelectiveScan(torch.autograd.Function):
    """Fast CPU selective scan (float32 compute); see the module docstring for the algorithm.

    The kernels work time-major, (b, l, d): the (b, d, l) arguments are transposed and made contiguous, which
    is free when they are themselves transposed (b, l, d) tensors, as in Mamba's mixer; the output and the
    gradients come back as transposed views of (b, l, d) tensors.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus: bool, keep_last: bool = False):
        b, d, l = u.shape
        n = A.shape[1]
        def time_major(t):  # (b, x, l) -> (b, l, x)
            return t.float().transpose(1, 2).contiguous()

        dt = delta.float().transpose(1, 2)  # (b, l, d)
        if delta_bias is not None:
            dt = dt + delta_bias.float()
        if delta_softplus:
            dt = F.softplus(dt)
        dt = dt.contiguous()
        u_t, B_t, C_t = time_major(u), time_major(B), time_major(C)  # (b, l, d), (b, l, n), (b, l, n)
        AT = A.float().t().contiguous()  # (n, d)
        # a copy: a numpy view of the parameter's own storage would make it non-resizable for good (FSDP frees
        # and re-gathers parameter storage)
        D32 = D.detach().float().clone() if D is not None else u_t.new_zeros(d)
        z_t = time_major(z) if z is not None else u_t.new_zeros(1, 1, 1)
        save = any(ctx.needs_input_grad[:8])
        ckpt = u_t.new_empty((b, max(0, -(-l // CHUNK) - 1), n, d) if save else (1, 1, n, d))
        out = torch.empty_like(u_t)
        last = u_t.new_empty((b, n, d) if keep_last else (1, 1, 1))
        threads = _threads()
        width = _width(b, d, n, threads)
        _run(
            cpu_kernels().scan_fwd_kernel, b * -(-d // width), threads,
            _np(u_t), _np(dt), _np(AT), _np(B_t), _np(C_t), _np(D32), _np(z_t), z is not None, CHUNK, width, save,
            out.numpy(), ckpt.numpy(), keep_last, last.numpy(),
        )  # fmt: skip
        if save:
            ctx.save_for_backward(u_t, dt, AT, B_t, C_t, D32, z_t, ckpt)
            ctx.has = (D is not None, z is not None, delta_bias is not None)
            ctx.delta_softplus = delta_softplus
            ctx.dtypes = tuple(t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z, delta_bias))
        if not keep_last:
            return out.transpose(1, 2).to(u.dtype)
        last = last.transpose(1, 2)  # (b, d, n)
        ctx.mark_non_differentiable(last)
        return out.transpose(1, 2).to(u.dtype), last

    @staticmethod
    def backward(ctx, dout, dlast=None):  # the last state carries no gradient
        u_t, dt, AT, B_t, C_t, D32, z_t, ckpt = ctx.saved_tensors
        has_D, has_z, has_bias = ctx.has
        b, l, d = u_t.shape
        n = AT.shape[0]
        threads = _threads()
        width = _width(b, d, n, threads)
        blocks = -(-d // width)
        dout_t = dout.float().transpose(1, 2).contiguous()  # (b, l, d)
        du, ddt = torch.empty_like(u_t), torch.empty_like(u_t)
        dz = torch.empty_like(u_t) if has_z else u_t.new_empty(1, 1, 1)
        dAT_part, dD_part = u_t.new_empty(b, n, d), u_t.new_empty(b, d)
        dBt_part, dCt_part = u_t.new_empty(b, blocks, l, n), u_t.new_empty(b, blocks, l, n)
        _run(
            cpu_kernels().scan_bwd_kernel, b * blocks, threads,
            _np(u_t), _np(dt), _np(AT), _np(B_t), _np(C_t), _np(D32), _np(z_t), has_z, CHUNK, width, _np(ckpt),
            _np(dout_t), du.numpy(), ddt.numpy(), dz.numpy(), dAT_part.numpy(), dD_part.numpy(), dBt_part.numpy(),
            dCt_part.numpy(),
        )  # fmt: skip
        if ctx.delta_softplus:  # d softplus(x) / dx = sigmoid(x) = 1 - exp(-softplus(x))
            ddt = ddt * -torch.expm1(-dt)
        grads = (
            du.transpose(1, 2),
            ddt.transpose(1, 2),
            dAT_part.sum(0).t(),
            (dBt_part[:, 0] if blocks == 1 else dBt_part.sum(1)).transpose(1, 2),
            (dCt_part[:, 0] if blocks == 1 else dCt_part.sum(1)).transpose(1, 2),
            dD_part.sum(0) if has_D else None,
            dz.transpose(1, 2) if has_z else None,
            ddt.sum((0, 1)) if has_bias else None,
        )
        grads = tuple(
            g.to(dtype) if g is not None and needed else None
            for g, dtype, needed in zip(grads, ctx.dtypes, ctx.needs_input_grad)
        )
        return (*grads, None, None)


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
        if cpu_kernels() is not None:
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
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    backend = scan_backend(u, delta, A, B, C, D, z, delta_bias)
    if backend == "mamba_ssm":  # pragma: no cover - needs CUDA and mamba_ssm
        return _mamba_ssm_scan(*args)
    if backend == "chunked":
        return selective_scan_chunked(*args)
    if backend == "reference" or u.shape[2] == 0:
        return selective_scan_ref(*args)
    return _SelectiveScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), bool(return_last_state))
