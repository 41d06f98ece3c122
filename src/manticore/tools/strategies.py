"""FSDP against DDP on N CPU processes: step time and memory per process (`make bench-strategies`).

    python -m manticore.tools.strategies [--procs 2] [--rounds 2] [--steps 8]

Launches `torchrun --nproc_per_node N` on this file once per strategy and round, alternating ddp, fsdp, ddp,
fsdp..., so drift hits both alike. Each launch trains the same GPT-Neo + Mamba hybrid (d_model 512, 6 layers
each, L=3, ~44M parameters) on random tokens with AdamW, everything trainable, and reports per process:

- step: the median wall time of an optimizer step (after the first two);
- held: bytes of parameters + optimizer states (AdamW's two moments) this process holds after the last step
  (its shards under FSDP), counted exactly; gradients are freed after each step and peak at the parameters' size
  (sharded alike);
- RSS after building: the process's resident-set high-water mark (VmHWM) once the hybrid is built (torch and
  transformers themselves, about 1 GiB, and the hybrid, built alike for both strategies);
- peak RSS while training: the high-water mark from just before the engine is made (sharding included) to
  the last step, with the built model's memory in it; reset at that point (Linux /proc/self/clear_refs), so it
  is not the building's transient peak;
- peak RSS overall: the same at the end, after the final checkpoint, which rank 0 writes gathered (under
  FSDP it holds the full model and optimizer states on the CPU while writing).

Prints a markdown table of the medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def high_water_mb() -> float:
    """The process's peak resident set size (VmHWM) since the start or the last `reset_high_water`, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the peak since the start


def reset_high_water() -> None:
    """Reset VmHWM to the current RSS (Linux: writing 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def worker(strategy: str, steps: int, out: str) -> None:
    import torch
    from transformers import GPTNeoConfig, MambaConfig

    from manticore import ManticoreForCausalLM
    from manticore.tasks import SequenceDataset, Task
    from manticore.train import Engine, TrainConfig
    from manticore.train.parallel import local

    vocab, length = 4096, 128
    torch.manual_seed(0)
    ids = torch.randint(0, vocab, (256, length + 1))
    data = SequenceDataset(ids[:, :-1], ids[:, 1:])
    task = Task("random-tokens", "lm", vocab, train=data, test=SequenceDataset(ids[:8, :-1], ids[:8, 1:]))
    common = dict(vocab_size=vocab, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    neo = GPTNeoConfig(hidden_size=512, num_layers=6, num_heads=8, attention_types=[[["global", "local"], 3]],
                       max_position_embeddings=length, window_size=64, **common)
    mamba = MambaConfig(hidden_size=512, num_hidden_layers=6, state_size=16, expand=2, **common)
    model = ManticoreForCausalLM.from_components([neo, mamba], num_blocks=3)
    times: list[float] = []
    last = [time.perf_counter()]

    rss = {}

    def on_step(step, metrics):
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now
        rss["training"] = high_water_mb()  # before the final checkpoint

    config = TrainConfig(max_steps=steps, batch_size=4, lr=1e-4, strategy=strategy, log_every=steps, eval_batches=1)
    rss["built"] = high_water_mb()
    reset_high_water()  # from here: the engine (sharding included) and training
    engine = Engine(model, task, config, out, on_step=on_step)
    last[0] = time.perf_counter()
    engine.train()
    trained = engine.model
    held = sum(local(p).numel() * local(p).element_size() for p in trained.parameters())
    held += sum(local(p.grad).numel() * p.grad.element_size() for p in trained.parameters() if p.grad is not None)
    for optimizer in engine.optimizers.values():
        for state in optimizer.state.values():
            held += sum(local(v).numel() * local(v).element_size() for v in state.values() if torch.is_tensor(v))
    record = {"strategy": strategy, "rank": engine.rank, "step_s": statistics.median(times[2:]),
              "held_mb": held / 2**20, "built_rss_mb": rss["built"],
              "training_rss_mb": rss["training"], "peak_rss_mb": high_water_mb(),
              "params": sum(p.numel() for p in model.parameters())}
    with open(Path(out) / f"bench-rank{engine.rank}.json", "w") as f:
        json.dump(record, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"ddp": [], "fsdp": []}
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // args.procs))}
    for round_ in range(args.rounds):
        for strategy in ("ddp", "fsdp"):
            with tempfile.TemporaryDirectory() as out:
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                       str(args.procs), __file__, "--worker", strategy, str(args.steps), out]
                subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                ranks = [json.loads((Path(out) / f"bench-rank{r}.json").read_text()) for r in range(args.procs)]
            results[strategy].append(ranks)
            print(f"round {round_ + 1} {strategy}: " + ", ".join(f"rank {r['rank']} step {r['step_s']:.3f} s, held "
                  f"{r['held_mb']:.0f} MiB, RSS built / training / overall {r['built_rss_mb']:.0f} / "
                  f"{r['training_rss_mb']:.0f} / {r['peak_rss_mb']:.0f} MiB" for r in ranks),
                  flush=True)
    params = results["ddp"][0][0]["params"]
    print(f"\n{args.procs} CPU processes (gloo), hybrid of {params / 1e6:.1f}M parameters, batch 4 x 128 tokens per "
          f"process, medians over {args.rounds} rounds and the processes:\n")
    print("| strategy | step (s) | parameters + AdamW states held per process (MiB) | RSS after building (MiB) "
          "| peak RSS while training (MiB) | peak RSS overall (MiB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for strategy, rounds in results.items():
        flat = [r for ranks in rounds for r in ranks]
        keys = ("step_s", "held_mb", "built_rss_mb", "training_rss_mb", "peak_rss_mb")
        row = [statistics.median(r[key] for r in flat) for key in keys]
        print(f"| {strategy} | {row[0]:.3f} | " + " | ".join(f"{v:.0f}" for v in row[1:]) + " |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
