"""Fast paths beside their references, for Mamba's selective scan (Mamba v1):

    scan_inputs.py            what every scan shares: argument shapes, inputs in the compute dtype, D and z
    selective_scan.py         the plain-PyTorch reference, and the dispatch to the fastest implementation
    selective_scan_chunked.py the chunked pure-PyTorch scan (the GPU path without mamba_ssm)
    selective_scan_cpu.py     the CPU path: an autograd Function over threaded numba kernels
    numba_kernels.py          those numba kernels (imported on first use)
    mamba_mixer.py            the Mamba mixer that runs the dispatched scan, and the hook that puts it into models
"""

from .mamba_mixer import FastScanMambaMixer, use_fast_scan
from .selective_scan import selective_scan, selective_scan_ref

__all__ = ["FastScanMambaMixer", "selective_scan", "selective_scan_ref", "use_fast_scan"]
