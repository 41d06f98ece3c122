"""The selective scan's implementations timed interleaved, forward + backward, on CPU and (if any) CUDA.

    .venv/bin/python -m manticore.tools.scan_backends [--length 1024] [--channels 64] [--reps 7]

On CPU: the numba kernel (what runs there), the chunked PyTorch scan (the CUDA path without mamba_ssm) and the
per-timestep reference. On CUDA, when there is a GPU: the chunked scan against the reference (transformers'
slow path is the same loop), and mamba_ssm's kernel if installed. Medians of --reps timed repetitions after one
warm-up, the implementations taking turns. Shapes: b=2, d=--channels, n=16, l=--length.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from manticore.kernels.selective_scan import _mamba_ssm_scan, selective_scan, selective_scan_ref
from manticore.kernels.selective_scan_chunked import selective_scan_chunked


def inputs(b: int, d: int, l: int, n: int, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    values = dict(u=torch.randn(b, d, l, generator=g), delta=torch.randn(b, d, l, generator=g) - 1,
                  A=-torch.exp(torch.randn(d, n, generator=g)), B=torch.randn(b, n, l, generator=g),
                  C=torch.randn(b, n, l, generator=g), D=torch.randn(d, generator=g),
                  z=torch.randn(b, d, l, generator=g), delta_bias=torch.randn(d, generator=g))
    return {k: v.to(device).requires_grad_() for k, v in values.items()}


def timed(fn, args, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(**args, delta_softplus=True).sum().backward()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    devices = {"cpu": {"numba": selective_scan, "chunked": selective_scan_chunked, "reference": selective_scan_ref}}
    if torch.cuda.is_available():
        devices["cuda"] = {"chunked": selective_scan_chunked, "reference": selective_scan_ref}
        if _mamba_ssm_scan is not None:
            devices["cuda"]["mamba_ssm"] = selective_scan
    for device, scans in devices.items():
        x = inputs(2, args.channels, args.length, 16, device)
        times: dict[str, list[float]] = {name: [] for name in scans}
        for rep in range(args.reps + 1):
            for name, fn in scans.items():
                seconds = timed(fn, x, device)
                if rep:
                    times[name].append(seconds)
        name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
        print(f"{name}: b=2, d={args.channels}, n=16, l={args.length}, forward + backward, median seconds")
        for scan, values in times.items():
            print(f"  {scan:10s} {statistics.median(values):.4f}")


if __name__ == "__main__":
    main()
