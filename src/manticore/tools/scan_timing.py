"""CPU timings of Mamba's selective scan: manticore's fast scan vs transformers' PyTorch fallback, and a small
Mamba LM vs a GPT-Neo LM of the same width and depth. Not a test; run it by hand:

    .venv/bin/python -m manticore.tools.scan_timing           # everything; transformers' fallback takes minutes
    .venv/bin/python -m manticore.tools.scan_timing --quick   # without transformers' fallback

Each measurement runs in a fresh Python process (transformers' fallback leaves the allocator in a state that
slows down whatever runs after it), with torch.set_num_threads(--threads). Numbers are the median of `--steps`
timed repetitions after `--warmup` untimed ones; transformers' fallback gets fewer (see the output). The
ratios use wall-clock time; the bracketed lines also give the process's CPU time (all threads), which moves
less when other processes share the cores.
Models: 4 blocks, d_model 128, vocab 512; Mamba with d_inner 256 and n 16, GPT-Neo with 4 heads, alternating
global and local (window 256) attention. Shapes: b = batch, T = sequence length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings

VOCAB, D_MODEL, LAYERS, STATE = 512, 128, 4, 16


def median_time(fn, steps: int, warmup: int) -> dict[str, float]:
    """Median wall-clock seconds of fn, and the median CPU seconds of this process's threads (all of them)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"seconds": statistics.median(wall), "cpu_seconds": statistics.median(cpu)}


def build(kind: str, seq_len: int):
    """kind: 'mamba' (fast scan), 'mamba-hf' (transformers' fallback) or 'gpt-neo'; an LM in train mode."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM, MambaConfig, MambaForCausalLM

    from manticore.kernels import use_fast_scan

    if kind == "gpt-neo":
        cfg = GPTNeoConfig(vocab_size=VOCAB, hidden_size=D_MODEL, num_layers=LAYERS, num_heads=4,
                           attention_types=[[["global", "local"], LAYERS // 2]], max_position_embeddings=seq_len,
                           window_size=256, bos_token_id=0, eos_token_id=0)  # fmt: skip
        return GPTNeoForCausalLM(cfg)
    cfg = MambaConfig(vocab_size=VOCAB, hidden_size=D_MODEL, state_size=STATE, num_hidden_layers=LAYERS, expand=2)
    model = MambaForCausalLM(cfg)
    if kind == "mamba":
        use_fast_scan(model)
    return model


def run_case(case: str, batch: int, seq_len: int, steps: int, warmup: int) -> dict[str, float]:
    """Seconds for one case: 'mixer-fast' / 'mixer-hf' (one mixer's fwd + bwd) or 'lm-<kind>' (a train step)."""
    import torch

    if case.startswith("mixer-"):
        from transformers import MambaConfig, MambaModel

        from manticore.kernels import use_fast_scan

        cfg = MambaConfig(vocab_size=VOCAB, hidden_size=D_MODEL, state_size=STATE, num_hidden_layers=1, expand=2)
        mixer = MambaModel(cfg).layers[0].mixer
        if case == "mixer-fast":
            use_fast_scan(mixer)
        x = torch.randn(batch, seq_len, D_MODEL, requires_grad=True)
        return median_time(lambda: mixer(x).sum().backward(), steps, warmup)

    model = build(case.removeprefix("lm-"), seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, VOCAB, (batch, seq_len))

    def step():  # fwd + bwd + AdamW
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return median_time(step, steps, warmup)


def measure(case: str, batch: int, seq_len: int, steps: int, warmup: int, threads: int) -> float:
    """run_case in a fresh process; prints its wall and CPU medians, returns the wall median."""
    cmd = [sys.executable, __file__, "--case", case, "--batch", str(batch), "--seq-len", str(seq_len),
           "--steps", str(steps), "--warmup", str(warmup), "--threads", str(threads)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"    [{case} b{batch} T{seq_len}: wall {result['seconds'] * 1e3:.1f} ms, "
          f"CPU {result['cpu_seconds'] * 1e3:.1f} ms]", flush=True)
    return result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="skip transformers' slow fallback")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    parser.add_argument("--batch", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--seq-len", type=int, default=256, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        import torch
        from transformers.utils import logging as hf_logging

        warnings.filterwarnings("ignore")
        hf_logging.set_verbosity_error()
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        print(json.dumps(run_case(args.case, args.batch, args.seq_len, args.steps, args.warmup)))
        return

    t = dict(steps=args.steps, warmup=args.warmup, threads=args.threads)
    print(f"threads={args.threads}; median of {args.steps} after {args.warmup} warmup unless said otherwise", flush=True)

    fast = measure("mixer-fast", 16, 256, **t)
    print(f"one mixer fwd+bwd (b16, T256, d_inner 256, n 16): fast scan {fast * 1e3:9.1f} ms", flush=True)
    if not args.quick:
        slow = measure("mixer-hf", 16, 256, steps=3, warmup=1, threads=args.threads)
        print(f"one mixer fwd+bwd (b16, T256, d_inner 256, n 16): transformers {slow * 1e3:9.1f} ms (median of 3)"
              f" = {slow / fast:.0f}x the fast scan", flush=True)  # fmt: skip

    neo = measure("lm-gpt-neo", 16, 256, **t)
    mamba = measure("lm-mamba", 16, 256, **t)
    print(f"LM train step (b16, T256): GPT-Neo {neo * 1e3:7.1f} ms; Mamba + fast scan {mamba * 1e3:7.1f} ms"
          f" = {mamba / neo:.2f}x GPT-Neo", flush=True)  # fmt: skip
    if not args.quick:
        slow = measure("lm-mamba-hf", 16, 256, steps=1, warmup=0, threads=args.threads)
        print(f"LM train step (b16, T256): Mamba + transformers fallback {slow:.1f} s (one step)"
              f" = {slow / neo:.0f}x GPT-Neo", flush=True)  # fmt: skip

    print("per-token train-step time at b * T = 4096 tokens:", flush=True)
    base = None
    for seq_len in (256, 1024, 4096):
        batch = 4096 // seq_len
        mamba = measure("lm-mamba", batch, seq_len, **t) / 4096
        neo = measure("lm-gpt-neo", batch, seq_len, **t) / 4096
        base = base or mamba
        print(f"  b{batch:<2} T{seq_len:<5} Mamba + fast scan {mamba * 1e6:6.1f} us/token ({mamba / base:.2f}x T256);"
              f" GPT-Neo {neo * 1e6:7.1f} us/token", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
