"""Measurement tools, run by hand or by a make target, never by `make test`:

    bench.py            what a hybrid costs against its parts: training and inference ratios (`make bench`)
    families.py         which of transformers' causal LMs a one-hot hybrid reproduces exactly (`make families`)
    probes.py           reliability probes: bad input, corrupt files, interrupted and concurrent runs
    strategies.py       FSDP against DDP on several CPU processes (`make bench-strategies`)
    scan_backends.py    the selective scan's implementations, timed interleaved
    scan_timing.py      the fast scan against transformers' fallback, and Mamba against GPT-Neo
    demo_generation.py  generation speed of the demo's saved models
    recall_plateau.py   attention's plateau on MAD recall: our training path against a plain PyTorch loop

Each is `python -m manticore.tools.<name> --help`.
"""
