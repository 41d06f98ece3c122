"""The numba kernels of the fast CPU selective scan (float32), behind `selective_scan_cpu._SelectiveScan`.

Imported on the scan's first use (`selective_scan_cpu.load_numba_kernels`), not with `manticore`: importing numba
takes a noticeable part of a second. The algorithm, the shape letters and the time-major layout are described in
`selective_scan_cpu`'s module docstring; each kernel's docstring gives its arguments' shapes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["scan_bwd_kernel", "scan_fwd_kernel"]

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
def scan_fwd_kernel(job0, job1, u, dt, AT, Bt, Ct, D, z, has_z, chunk, width, save, out, ckpt, keep_last, last):
    """out = (<C_t, h_t> + D u_t) * silu(z_t), time-major; ckpt[b, c - 1] = the state before chunk c; with
    keep_last, last[b] = the state after the last step (what generation continues from).

    u, dt, z, out: (b, l, d); AT: (n, d); Bt, Ct: (b, l, n); D: (d,); ckpt: (b, ceil(l / chunk) - 1, n, d);
    last: (b, n, d).
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
        if keep_last:
            last[b, :, d0:d1] = h


@njit(**_JIT)
def scan_bwd_kernel(
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
