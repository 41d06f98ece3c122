"""--resume means "continue whatever is left", never someone else's run (issue 11, point 3): no checkpoint
starts fresh, a finished run is not trained again, another run's checkpoint is refused with the fields named,
a corrupt latest checkpoint falls back to the previous one, orphan temporary files are removed."""

import json

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import Engine, SearchConfig, TrainConfig
from manticore.rundir import CHECKPOINT, METRICS, PREVIOUS_CHECKPOINT
from conftest import tiny_config

CONFIG = dict(max_steps=6, batch_size=16, lr=3e-3, log_every=1, checkpoint_every=2)


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=16, vocab_size=16, seed=0)


def model(task, seed=0):
    torch.manual_seed(seed)
    return manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo", vocab=task.vocab_size),
                                                           tiny_config("mamba", vocab=task.vocab_size)], num_blocks=1)


def log(path):
    return (path / METRICS).read_text()


class Crash(Exception):
    pass


def crash_at(step):
    def on_step(s, metrics):
        if s == step:
            raise Crash
    return on_step


def interrupted(task, out, at, **config):
    with pytest.raises(Crash):
        Engine(model(task), task, TrainConfig(**{**CONFIG, **config}), out, on_step=crash_at(at)).train()


@pytest.fixture(scope="module")
def full(task, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    engine = Engine(model(task), task, TrainConfig(**CONFIG), out)
    return engine.train(), engine.model.state_dict(), log(out)


def test_no_checkpoint_starts_fresh(task, tmp_path, full, capsys):
    metrics = Engine(model(task), task, TrainConfig(**CONFIG), tmp_path).train(resume=True)
    out = capsys.readouterr().out
    assert "No checkpoint" in out and "starting fresh" in out
    assert metrics == full[0] and log(tmp_path) == full[2]


def test_a_finished_run_is_not_trained_again(task, tmp_path, full):
    Engine(model(task), task, TrainConfig(**CONFIG), tmp_path).train()
    steps = []
    again = Engine(model(task, seed=5), task, TrainConfig(**CONFIG), tmp_path, on_step=lambda s, m: steps.append(s))
    assert again.train(resume=True) == full[0] and steps == []
    assert log(tmp_path) == full[2]
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), full[1].values()))


@pytest.mark.parametrize("change,named", [({"seed": 1, "lr": 1e-3}, ["seed: checkpoint 0, this run 1", "lr:"]),
                                          ({"batch_size": 8}, ["batch_size: checkpoint 16, this run 8"])])
def test_another_runs_checkpoint_is_refused_naming_the_fields(task, tmp_path, change, named):
    interrupted(task, tmp_path, 3)
    with pytest.raises(ValueError, match="was written by another run") as err:
        Engine(model(task), task, TrainConfig(**{**CONFIG, **change}), tmp_path).train(resume=True)
    assert all(n in str(err.value) for n in named) and "resume_override" in str(err.value)


def test_another_search_algorithm_is_refused_and_overrides_are_explicit(task, tmp_path):
    config = TrainConfig(**CONFIG, arch_lr=0.05)
    with pytest.raises(Crash):
        Engine(model(task), task, config, tmp_path, search=SearchConfig("darts"), on_step=crash_at(3)).train()
    with pytest.raises(ValueError, match="search: checkpoint .*'darts'.*this run .*'gaea'"):
        Engine(model(task), task, config, tmp_path, search=SearchConfig("gaea")).train(resume=True)
    longer = TrainConfig(**{**CONFIG, "max_steps": 8}, arch_lr=0.05, resume_override=["max_steps"])
    Engine(model(task), task, longer, tmp_path, search=SearchConfig("darts")).train(resume=True)  # deliberate
    assert json.loads(log(tmp_path).splitlines()[-1])["step"] == 8


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous(task, tmp_path, full):
    interrupted(task, tmp_path, 5)  # checkpoints at steps 2 and 4
    latest = tmp_path / CHECKPOINT
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated
    with pytest.warns(UserWarning, match="resuming from the previous checkpoint"):
        resumed = Engine(model(task, seed=9), task, TrainConfig(**CONFIG), tmp_path)
        assert resumed.train(resume=True) == full[0]
    assert log(tmp_path) == full[2]
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(), full[1].values()))


def test_both_checkpoints_corrupt_is_a_named_error(task, tmp_path):
    interrupted(task, tmp_path, 5)
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        (tmp_path / name).write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="No checkpoint this engine can load .*Delete them to start the stage afresh"):
        Engine(model(task), task, TrainConfig(**CONFIG), tmp_path).train(resume=True)


def test_a_checkpoint_of_another_architecture_is_named(task, tmp_path):
    interrupted(task, tmp_path, 3)
    other = manticore.ManticoreForCausalLM.from_components([tiny_config("llama", vocab=task.vocab_size)], num_blocks=1)
    with pytest.raises(ValueError, match=f"{CHECKPOINT} does not fit this model"):
        Engine(other, task, TrainConfig(**CONFIG), tmp_path).train(resume=True)


def test_orphan_temporary_files_are_removed(task, tmp_path):
    interrupted(task, tmp_path, 3)
    orphan = tmp_path / "tmpab12cd.tmp"
    orphan.write_bytes(b"half a checkpoint")
    Engine(model(task), task, TrainConfig(**CONFIG), tmp_path).train(resume=True)
    assert not orphan.exists()


def test_resume_override_must_name_fields():
    with pytest.raises(ValueError, match="resume_override"):
        TrainConfig(resume_override=["max_stpes"])
