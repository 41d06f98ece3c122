"""Run by test_distributed.py under torchrun: trains a tiny hybrid and saves this rank's weights.

    worker.py OUT STRATEGY MAX_STEPS [--resume]

A DARTS search with alternating updates; block 0 is set to one-hot α = (1, 0), so its Mamba branch is skipped
(zero weight) on every process, and block 1 searches over both branches.
"""

import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
import manticore  # noqa: E402
from conftest import tiny_config  # noqa: E402
from manticore import tasks  # noqa: E402
from manticore.train import Engine, SearchConfig, TrainConfig  # noqa: E402

out, strategy, max_steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
resume = "--resume" in sys.argv
task = tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=32, vocab_size=16, seed=0)
torch.manual_seed(0)
model = manticore.ManticoreForCausalLM.from_components(
    [tiny_config("gpt_neo", vocab=16), tiny_config("mamba", vocab=16)], num_blocks=2)
model.set_mixture_weights([[1.0, 0.0], [0.5, 0.5]])
config = TrainConfig(max_steps=max_steps, batch_size=8, lr=1e-3, arch_lr=0.05, schedule="constant", strategy=strategy,
                     checkpoint_every=1, resume_override=["max_steps"])
engine = Engine(model, task, config, out, search=SearchConfig("darts", "alternating"))
start = time.perf_counter()
metrics = engine.train(resume=resume)
seconds = time.perf_counter() - start
torch.save({"state": model.state_dict(), "world": engine.world, "metrics": metrics, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sharded": engine.sharded is not None and engine.sharded.units},
           os.path.join(out, f"rank{engine.rank}.pt"))
if torch.distributed.is_initialized():  # leave no gloo thread running at exit (a rare abort otherwise)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
