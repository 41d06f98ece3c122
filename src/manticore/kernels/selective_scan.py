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
u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,). Returns (b, d, l).

`selective_scan` picks the fastest available implementation:

1. CUDA tensors with `mamba_ssm` installed: mamba_ssm's fused CUDA kernel;
2. CPU tensors (float32, float16 or bfloat16; computed in float32) with numba installed: `_SelectiveScan`,
   an autograd Function over two numba kernels whose jobs, (batch row, block of channels), are shared out
   between torch.get_num_threads() threads (the kernels release the GIL). The forward
   scan keeps only the state before every `CHUNK`-th step, (b, l / CHUNK, n, d); the backward recomputes
   one chunk's states at a time from its checkpoint and walks back through them (reverse-time scan) for
   the gradients. Memory is O(b*d*l + b*d*n*l/CHUNK): nothing of size b*d*l*n is stored, so l = 16384
   is fine. The kernels run time-major, (b, l, d), vectorised over contiguous channels, with an exp
   written in plain arithmetic so that it vectorises too;
3. anything else (float64, CUDA without mamba_ssm, no numba): `selective_scan_ref`.
"""

from __future__ import annotations

import itertools
import threading
import warnings

import numpy as np
import torch
import torch.nn.functional as F

try:
    from numba import njit

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; this keeps import working without it
    _HAVE_NUMBA = False

try:  # pragma: no cover - needs a CUDA machine with mamba_ssm
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _mamba_ssm_scan
except Exception:  # ImportError, or a broken CUDA build
    _mamba_ssm_scan = None

__all__ = ["selective_scan", "selective_scan_ref", "CHUNK"]

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
def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Plain-PyTorch selective scan, one time step at a time (slow; the definition the fast path must match).

    u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,) -> (b, d, l).
    Computes in float32 (float64 if u is float64) and returns u's dtype.
    """
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    dtype = u.dtype
    work = torch.float64 if dtype == torch.float64 else torch.float32
    dt = delta.to(work)  # (b, d, l)
    if delta_bias is not None:
        dt = dt + delta_bias.to(work)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    u_, A_, B_, C_ = u.to(work), A.to(work), B.to(work), C.to(work)
    h = u_.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (b, d, n)
    ys = []
    for t in range(u.shape[2]):
        dt_t = dt[:, :, t, None]  # (b, d, 1)
        h = torch.exp(dt_t * A_) * h + dt_t * u_[:, :, t, None] * B_[:, None, :, t]
        ys.append((h * C_[:, None, :, t]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=-1) if ys else u_.new_zeros(u.shape)
    if D is not None:
        y = y + u_ * D.to(work)[:, None]
    if z is not None:
        y = y * F.silu(z.to(work))
    return y.to(dtype)


# ----------------------------------------------------------------------------------------------------------
# Numba kernels (float32)
# ----------------------------------------------------------------------------------------------------------
if _HAVE_NUMBA:
    _f32 = np.float32
    # Cephes-style expf: exp(x) = 2^k * exp(r), |r| <= ln2 / 2, degree-7 polynomial; ~1 ulp. Written with
    # plain arithmetic (no libm call) so that LLVM vectorises the loops over channels that call it.
    _LOG2E = _f32(1.4426950408889634)
    _LN2_HI = _f32(0.693359375)
    _LN2_LO = _f32(-2.12194440e-4)
    _P0, _P1, _P2 = _f32(1.9875691500e-4), _f32(1.3981999507e-3), _f32(8.3334519073e-3)
    _P3, _P4, _P5 = _f32(4.1665795894e-2), _f32(1.6666665459e-1), _f32(5.0000001201e-1)
    _ZERO, _ONE, _HALF = _f32(0.0), _f32(1.0), _f32(0.5)
    _X_MIN, _X_MAX = _f32(-87.33654), _f32(88.72283)  # exp underflows to 0 below, overflows to inf above
    _INF = _f32(np.inf)
    _FASTMATH = {"contract", "reassoc", "nsz", "arcp"}  # no nnan/ninf: inf and nan must propagate
    _JIT = dict(nogil=True, cache=True, fastmath=_FASTMATH)

    @njit(inline="always", **_JIT)
    def _exp(x):
        xc = min(max(x, _X_MIN), _X_MAX)
        k = np.floor(xc * _LOG2E + _HALF)  # float32 (math.floor would give an int64 and promote to float64)
        r = xc - k * _LN2_HI - k * _LN2_LO
        p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
        p = p * (r * r) + r + _ONE
        ki = np.int32(k)
        k1 = ki >> np.int32(1)  # 2^k as 2^k1 * 2^(k - k1) so that k = 128 does not overflow the exponent
        s1 = np.int32((k1 + np.int32(127)) << np.int32(23)).view(np.float32)
        s2 = np.int32((ki - k1 + np.int32(127)) << np.int32(23)).view(np.float32)
        res = p * s1 * s2
        if x < _X_MIN:
            res = _ZERO
        if x > _X_MAX:
            res = _INF
        return res

    @njit(inline="always", **_JIT)
    def _sigmoid(x):
        return _ONE / (_ONE + _exp(-x))

    @njit(**_JIT)
    def _scan_fwd_kernel(job0, job1, u, dt, AT, Bt, Ct, D, z, has_z, chunk, width, save, out, ckpt):
        """out = (<C_t, h_t> + D u_t) * silu(z_t), time-major; ckpt[b, c - 1] = the state before chunk c.

        u, dt, z, out: (b, l, d); AT: (n, d); Bt, Ct: (b, l, n); D: (d,); ckpt: (b, ceil(l / chunk) - 1, n, d).
        Runs jobs [job0, job1) of b * ceil(d / width), job = (batch row, block of `width` channels); the
        innermost loops run over the block's channels, which are contiguous, so they vectorise.
        """
        nb, L, nd = u.shape
        N = AT.shape[0]
        nblocks = (nd + width - 1) // width
        for job in range(job0, job1):
            b = job // nblocks
            d0 = (job % nblocks) * width
            d1 = min(nd, d0 + width)
            W = d1 - d0
            h = np.zeros((N, W), np.float32)
            x = np.empty(W, np.float32)
            y = np.empty(W, np.float32)
            Dv = D[d0:d1]
            for t in range(L):
                if save and t > 0 and t % chunk == 0:
                    ckpt[b, t // chunk - 1, :, d0:d1] = h
                dtv = dt[b, t, d0:d1]
                uv = u[b, t, d0:d1]
                for j in range(W):
                    x[j] = dtv[j] * uv[j]
                    y[j] = Dv[j] * uv[j]
                for i in range(N):
                    Bi = Bt[b, t, i]
                    Ci = Ct[b, t, i]
                    Ai = AT[i, d0:d1]
                    hi = h[i]
                    for j in range(W):
                        v = _exp(dtv[j] * Ai[j]) * hi[j] + x[j] * Bi
                        hi[j] = v
                        y[j] += v * Ci
                o = out[b, t, d0:d1]
                if has_z:
                    zv = z[b, t, d0:d1]
                    for j in range(W):
                        o[j] = y[j] * zv[j] * _sigmoid(zv[j])
                else:
                    o[:] = y

    @njit(**_JIT)
    def _scan_bwd_kernel(
        job0, job1, u, dt, AT, Bt, Ct, D, z, has_z, chunk, width, ckpt, dout, du, ddt, dz, dAT_part, dD_part,
        dBt_part, dCt_part,
    ):
        """Reverse-time scan for the gradients, time-major, jobs as in the forward.

        Inputs as in the forward, plus dout (b, l, d). Writes du, ddt, dz (b, l, d); dAT_part (b, n, d) and
        dD_part (b, d), to be summed over b; dBt_part, dCt_part (b, ceil(d / width), l, n), to be summed over
        their second axis. Each chunk's states are recomputed from its checkpoint, then walked back through.
        """
        nb, L, nd = u.shape
        N = AT.shape[0]
        nblocks = (nd + width - 1) // width
        nchunks = (L + chunk - 1) // chunk
        for job in range(job0, job1):
            b = job // nblocks
            blk = job % nblocks
            d0 = blk * width
            d1 = min(nd, d0 + width)
            W = d1 - d0
            hbuf = np.empty((chunk + 1, N, W), np.float32)  # hbuf[k] = the state before step t0 + k
            abuf = np.empty((chunk, N, W), np.float32)  # exp(dt A) at step t0 + k
            ybuf = np.empty((chunk, W), np.float32)  # <C, h> at step t0 + k
            gh = np.zeros((N, W), np.float32)  # dL/dh_{t+1} * exp(dt_{t+1} A): what flows back into h_t
            dA = np.zeros((N, W), np.float32)
            dDv = np.zeros(W, np.float32)
            x = np.empty(W, np.float32)
            gy = np.empty(W, np.float32)  # dL/d<C, h_t>
            dx = np.empty(W, np.float32)  # dL/d(dt u)
            ddec = np.empty(W, np.float32)  # dL/d dt through the decay
            Dv = D[d0:d1]
            dBg = dBt_part[b, blk]
            dCg = dCt_part[b, blk]
            for c in range(nchunks - 1, -1, -1):
                t0 = c * chunk
                t1 = min(L, t0 + chunk)
                if c == 0:
                    hbuf[0] = _ZERO
                else:
                    hbuf[0] = ckpt[b, c - 1, :, d0:d1]
                for t in range(t0, t1):  # recompute the chunk's states
                    k = t - t0
                    dtv = dt[b, t, d0:d1]
                    uv = u[b, t, d0:d1]
                    yk = ybuf[k]
                    for j in range(W):
                        x[j] = dtv[j] * uv[j]
                        yk[j] = _ZERO
                    for i in range(N):
                        Bi = Bt[b, t, i]
                        Ci = Ct[b, t, i]
                        Ai = AT[i, d0:d1]
                        hp = hbuf[k, i]
                        hn = hbuf[k + 1, i]
                        ak = abuf[k, i]
                        for j in range(W):
                            a = _exp(dtv[j] * Ai[j])
                            ak[j] = a
                            v = a * hp[j] + x[j] * Bi
                            hn[j] = v
                            yk[j] += v * Ci
                for t in range(t1 - 1, t0 - 1, -1):  # walk back through it
                    k = t - t0
                    dtv = dt[b, t, d0:d1]
                    uv = u[b, t, d0:d1]
                    go = dout[b, t, d0:d1]
                    if has_z:
                        zv = z[b, t, d0:d1]
                        dzv = dz[b, t, d0:d1]
                        yk = ybuf[k]
                        for j in range(W):
                            s = _sigmoid(zv[j])
                            dzv[j] = go[j] * (yk[j] + Dv[j] * uv[j]) * s * (_ONE + zv[j] * (_ONE - s))
                            gy[j] = go[j] * zv[j] * s
                    else:
                        gy[:] = go
                    for j in range(W):
                        x[j] = dtv[j] * uv[j]
                        dDv[j] += gy[j] * uv[j]
                        dx[j] = _ZERO
                        ddec[j] = _ZERO
                    for i in range(N):
                        Bi = Bt[b, t, i]
                        Ci = Ct[b, t, i]
                        hp = hbuf[k, i]
                        hn = hbuf[k + 1, i]
                        ak = abuf[k, i]
                        ghi = gh[i]
                        Ai = AT[i, d0:d1]
                        dAi = dA[i]
                        sC = _ZERO
                        sB = _ZERO
                        for j in range(W):
                            gyj = gy[j]
                            sC += gyj * hn[j]
                            gi = ghi[j] + gyj * Ci  # dL/dh_t
                            sB += gi * x[j]
                            dx[j] += gi * Bi
                            a = ak[j]
                            glog = gi * hp[j] * a  # dL/d(dt A_i)
                            ddec[j] += glog * Ai[j]
                            dAi[j] += glog * dtv[j]
                            ghi[j] = gi * a
                        dCg[t, i] = sC
                        dBg[t, i] = sB
                    duv = du[b, t, d0:d1]
                    ddtv = ddt[b, t, d0:d1]
                    for j in range(W):
                        duv[j] = dx[j] * dtv[j] + gy[j] * Dv[j]
                        ddtv[j] = ddec[j] + dx[j] * uv[j]
            dAT_part[b, :, d0:d1] = dA
            dD_part[b, d0:d1] = dDv


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
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus: bool):
        b, d, l = u.shape
        n = A.shape[1]
        time_major = lambda t: t.float().transpose(1, 2).contiguous()  # (b, x, l) -> (b, l, x)
        dt = delta.float().transpose(1, 2)  # (b, l, d)
        if delta_bias is not None:
            dt = dt + delta_bias.float()
        if delta_softplus:
            dt = F.softplus(dt)
        dt = dt.contiguous()
        u_t, B_t, C_t = time_major(u), time_major(B), time_major(C)  # (b, l, d), (b, l, n), (b, l, n)
        AT = A.float().t().contiguous()  # (n, d)
        D32 = D.float().contiguous() if D is not None else u_t.new_zeros(d)
        z_t = time_major(z) if z is not None else u_t.new_zeros(1, 1, 1)
        save = any(ctx.needs_input_grad[:8])
        ckpt = u_t.new_empty((b, max(0, -(-l // CHUNK) - 1), n, d) if save else (1, 1, n, d))
        out = torch.empty_like(u_t)
        threads = _threads()
        width = _width(b, d, n, threads)
        _run(
            _scan_fwd_kernel, b * -(-d // width), threads,
            _np(u_t), _np(dt), _np(AT), _np(B_t), _np(C_t), _np(D32), _np(z_t), z is not None, CHUNK, width, save,
            out.numpy(), ckpt.numpy(),
        )  # fmt: skip
        if save:
            ctx.save_for_backward(u_t, dt, AT, B_t, C_t, D32, z_t, ckpt)
            ctx.has = (D is not None, z is not None, delta_bias is not None)
            ctx.delta_softplus = delta_softplus
            ctx.dtypes = tuple(t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z, delta_bias))
        return out.transpose(1, 2).to(u.dtype)

    @staticmethod
    def backward(ctx, dout):
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
            _scan_bwd_kernel, b * blocks, threads,
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
        return (*grads, None)


# ----------------------------------------------------------------------------------------------------------
# Dispatch
# ----------------------------------------------------------------------------------------------------------
_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_warned_no_numba = False


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Selective scan with the fastest implementation available (see the module docstring).

    u, delta: (b, d, l); A: (d, n); B, C: (b, n, l); D: (d,); z: (b, d, l); delta_bias: (d,) -> (b, d, l)
    in u's dtype. Differentiable in every tensor argument.
    """
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    tensors = [t for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None]
    if u.is_cuda and _mamba_ssm_scan is not None:  # pragma: no cover - needs CUDA and mamba_ssm
        return _mamba_ssm_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    on_cpu = all(t.device.type == "cpu" for t in tensors)
    fast_dtypes = all(t.dtype in _FAST_DTYPES for t in tensors)
    if not (on_cpu and fast_dtypes and _HAVE_NUMBA):
        global _warned_no_numba
        if on_cpu and fast_dtypes and not _warned_no_numba:  # pragma: no cover
            warnings.warn("numba is not installed: selective_scan falls back to the slow reference", stacklevel=2)
            _warned_no_numba = True
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    if u.shape[2] == 0:
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return _SelectiveScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus))
