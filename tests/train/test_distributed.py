"""Two CPU processes under torchrun (gloo): DDP and FSDP (FSDP2) reach the same weights, and FSDP resumes exactly.

The worker (ddp_worker.py) runs an alternating DARTS search on a GPT-Neo + Mamba hybrid whose block 0 has
α = (1, 0), so its Mamba branch is skipped for its zero weight, and block 1 searches.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def launch(out: Path, strategy: str, steps: int, *extra: str) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",  # a free port
           str(WORKER), str(out), strategy, str(steps), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    return {strategy: launch(root / strategy, strategy, 4) for strategy in ("ddp", "fsdp")} | {"root": root}


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_both_processes_end_with_identical_weights(runs, strategy):
    ranks = runs[strategy]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["metrics"] == ranks[1]["metrics"]  # evaluation is reduced across ranks
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name
    logits = ranks[0]["state"]["model.mixture.logits"]
    assert logits[0, 1] == float("-inf")  # the zero weight stayed exactly zero
    assert not torch.equal(logits[1], torch.zeros_like(logits[1]))  # block 1's mixture weights trained


def test_fsdp_shards_per_block_and_reaches_ddps_weights(runs):
    ddp, fsdp = runs["ddp"][0], runs["fsdp"][0]
    assert ddp["sharded"] is False
    assert fsdp["sharded"] == ["GPTNeoBlock"] * 2 + ["MambaBlock"] * 2 + ["ManticoreBlock"] * 2
    assert fsdp["state"].keys() == ddp["state"].keys()
    for name, value in ddp["state"].items():
        torch.testing.assert_close(fsdp["state"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    for split in ("loss", "accuracy"):
        assert fsdp["metrics"][split] == pytest.approx(ddp["metrics"][split], rel=1e-5)


def test_fsdp_resume_equals_the_uninterrupted_run(runs):
    out = runs["root"] / "resumed"
    launch(out, "fsdp", 2)  # stops after step 2 (its checkpoint is gathered: full tensors, written by rank 0)
    resumed = launch(out, "fsdp", 4, "--resume")
    for name, value in runs["fsdp"][0]["state"].items():
        assert torch.equal(resumed[0]["state"][name], value), name
    assert resumed[0]["metrics"] == runs["fsdp"][0]["metrics"]
