"""Run by test_distributed.py under torchrun: trains a tiny hybrid with DDP and saves this rank's weights."""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
import manticore  # noqa: E402
from conftest import tiny_config  # noqa: E402
from manticore import tasks  # noqa: E402
from manticore.train import Engine, SearchConfig, TrainConfig  # noqa: E402

out = sys.argv[1]
task = tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=32, vocab_size=16, seed=0)
torch.manual_seed(0)
model = manticore.ManticoreForCausalLM.from_components(
    [tiny_config("gpt_neo", vocab=16), tiny_config("mamba", vocab=16)], num_blocks=2)
engine = Engine(model, task, TrainConfig(max_steps=3, batch_size=8, lr=1e-3, arch_lr=0.05), out,
                search=SearchConfig("darts", "simultaneous"))
metrics = engine.train()
torch.save({"state": model.state_dict(), "world": engine.world, "metrics": metrics},
           os.path.join(out, f"rank{engine.rank}.pt"))
