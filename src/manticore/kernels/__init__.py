"""Fast kernels: Mamba's selective scan on CPU (numba), and the hook that puts it into Mamba's mixers."""

from .mamba_mixer import FastScanMambaMixer, use_fast_scan
from .selective_scan import selective_scan, selective_scan_ref

__all__ = ["FastScanMambaMixer", "selective_scan", "selective_scan_ref", "use_fast_scan"]
