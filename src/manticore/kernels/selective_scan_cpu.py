"""The fast CPU selective scan: an autograd Function (`_SelectiveScan`) over the two numba kernels of
`numba_kernels.py`, whose jobs (batch row, block of channels) are shared out between torch.get_num_threads()
threads (the kernels release the GIL).

The forward scan keeps only the state before every `STATE_CHECKPOINT_STEPS`-th step, (b, l / that, n, d); the
backward recomputes one stretch's states at a time from its checkpoint and walks back through them (reverse-time
scan) for the gradients. Memory is O(b*d*l + b*d*n*l/STATE_CHECKPOINT_STEPS): nothing of size b*d*l*n is stored,
so l = 16384 is fine. The kernels run time-major, (b, l, d), vectorised over contiguous channels. Shape letters
as in `selective_scan` (b, d, l, n); float32, float16 or bfloat16 arguments, computed in float32.
"""

from __future__ import annotations

import functools
import itertools
import threading

import numpy as np
import torch
import torch.nn.functional as F

# steps between stored states; the backward recomputes at most this many states at a time
STATE_CHECKPOINT_STEPS = 32


@functools.cache
def load_numba_kernels():
    """The numba kernels (module `numba_kernels`), or None without numba.

    Imported on the first call, so that importing manticore doesn't import numba (a few tenths of a second);
    numba compiles the kernels on their first run, or loads them from its on-disk cache.
    """
    try:
        from . import numba_kernels
    except ImportError:  # pragma: no cover - numba is a dependency; without it the reference runs
        return None
    return numba_kernels


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _threads() -> int:
    """As many threads as torch uses: torch.set_num_threads governs the scan too."""
    return max(1, torch.get_num_threads())


def _width(b: int, d: int, n: int, threads: int) -> int:
    """Channels per kernel job: wide enough for long vector loops (256 runs about twice as fast per element as
    64), narrow enough for a job per thread and for a job's recomputed states, 2 * (STATE_CHECKPOINT_STEPS + 1) * n * width
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
    """Fast CPU selective scan (float32 compute); see the module docstring.

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
        ckpt = u_t.new_empty((b, max(0, -(-l // STATE_CHECKPOINT_STEPS) - 1), n, d) if save else (1, 1, n, d))
        out = torch.empty_like(u_t)
        last = u_t.new_empty((b, n, d) if keep_last else (1, 1, 1))
        threads = _threads()
        width = _width(b, d, n, threads)
        _run(
            load_numba_kernels().scan_fwd_kernel, b * -(-d // width), threads,
            _np(u_t), _np(dt), _np(AT), _np(B_t), _np(C_t), _np(D32), _np(z_t), z is not None,
            STATE_CHECKPOINT_STEPS, width, save,
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
            load_numba_kernels().scan_bwd_kernel, b * blocks, threads,
            _np(u_t), _np(dt), _np(AT), _np(B_t), _np(C_t), _np(D32), _np(z_t), has_z,
            STATE_CHECKPOINT_STEPS, width, _np(ckpt),
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
