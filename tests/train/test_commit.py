"""search.commit_at: the search ends in the layout it points to, exactly, and trains it for the rest of its steps;
baselines' layouts: all trains every layout of the search space."""

import dataclasses
import json

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import Engine, SearchConfig, TrainConfig
from manticore.workflow.run_config import CONFIGS, load_run_config
from manticore.workflow.stages import run_stage

from conftest import tiny_config


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=32, vocab_size=16, seed=0)


def hybrid():
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=16), tiny_config("mamba", vocab=16)], num_blocks=2)


def test_the_search_commits_to_its_argmax_and_keeps_training(task, tmp_path):
    model = hybrid()
    config = TrainConfig(max_steps=8, batch_size=8, lr=1e-3, arch_lr=0.05, log_every=1)
    Engine(model, task, config, tmp_path, search=SearchConfig(commit_at=0.5)).train()
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    alphas = [r["alphas"] for r in log if r["split"] == "train"]
    assert all(sorted(row) != [0.0, 1.0] for row in alphas[3])  # step 4: still a mixture
    committed = alphas[4]
    assert all(sorted(row) == [0.0, 1.0] for row in committed)  # from step 5 on: exactly one-hot
    assert all(a == committed for a in alphas[4:])
    before = [row.index(max(row)) for row in alphas[3]]
    assert [row.index(1.0) for row in committed] == before  # the layout α pointed to
    assert torch.equal(model.mixture_weights().detach(), torch.tensor(committed))


def test_commit_at_is_checked():
    with pytest.raises(ValueError, match=r"search.commit_at=1.5 is not valid; accepted: a fraction of the steps in \(0, 1\]"):
        SearchConfig(commit_at=1.5)


def test_all_layouts_train_beside_the_components(tmp_path):
    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "stages.baselines.seeds=[0]", "stages.baselines.layouts=all"])
    run_stage(cfg, "baselines")
    models = [e["model"] for e in json.loads((tmp_path / "results.json").read_text())["entries"]]
    assert models == ["gpt_neo", "mamba", "gpt_neo+mamba", "mamba+gpt_neo", "hybrid"]


def test_alpha_waits_until_arch_start(task, tmp_path):
    model = hybrid()
    config = TrainConfig(max_steps=6, batch_size=8, lr=1e-3, arch_lr=0.05, log_every=1)
    Engine(model, task, config, tmp_path, search=SearchConfig(arch_start=0.5)).train()
    alphas = [json.loads(line)["alphas"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["split"] == "train"]
    assert alphas[0] == alphas[1] == alphas[2] == [[0.5, 0.5], [0.5, 0.5]]  # steps 1-3: the weights only
    assert alphas[3] != alphas[2]  # step 4: α moves
    with pytest.raises(ValueError, match=r"search.arch_start=1 is not valid; accepted: a fraction"):
        SearchConfig(arch_start=1)


def test_select_validation_commits_to_the_layout_with_the_lowest_validation_loss(task, tmp_path):
    from manticore.train.metrics import evaluate_model

    model = hybrid()
    config = TrainConfig(max_steps=6, batch_size=8, lr=1e-3, arch_lr=0.05, log_every=1)
    engine = Engine(model, task, config, tmp_path, search=SearchConfig(select="validation", commit_at=1.0))
    engine.train()
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    engine.algorithm.commit(engine)
    layout = [row.index(1.0) for row in model.mixture_weights().tolist()]
    losses = {}
    for choice in ([0, 0], [0, 1], [1, 0], [1, 1]):  # each layout alone, with the searched weights
        model.set_mixture_weights(torch.eye(2)[choice])
        losses[tuple(choice)] = evaluate_model(model, task, "validation", batch_size=8)["loss"]
    assert tuple(layout) == min(losses, key=losses.get)
    logged = {tuple(r["layout"]): r["loss"] for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines())
              if r["split"] == "validation"}
    assert logged == losses
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items() if "mixture" not in k)


def test_single_path_trains_one_layout_per_step_and_leaves_alpha(task, tmp_path):
    from manticore.train.search import SinglePath

    model = hybrid()
    drawn = []
    original = SinglePath.sample

    def sample(self, logits):
        alphas = original(self, logits)
        drawn.append(alphas.clone())
        return alphas

    SinglePath.sample = sample
    try:
        config = TrainConfig(max_steps=12, batch_size=8, lr=1e-3, arch_lr=0.05, log_every=1)
        Engine(model, task, config, tmp_path,
               search=SearchConfig(algorithm="single-path", select="validation", commit_at=1.0)).train()
    finally:
        SinglePath.sample = original
    assert len(drawn) == 12
    assert all(sorted(row.tolist()) == [0.0, 1.0] and not a.requires_grad for a in drawn for row in a)
    assert len({tuple(a.argmax(-1).tolist()) for a in drawn}) > 1  # different layouts
    assert torch.equal(model.mixture_weights().detach(), torch.full((2, 2), 0.5))  # α never stepped


def test_select_settings_are_checked(task, tmp_path):
    with pytest.raises(ValueError, match=r"search.select='best' is not valid; accepted: 'argmax' or 'validation'"):
        SearchConfig(select="best")
    with pytest.raises(ValueError, match=r"search.select='argmax' is not valid; accepted: 'validation' with "
                                         r"search.algorithm='single-path', which does not train α"):
        SearchConfig(algorithm="single-path", commit_at=1.0)
    with pytest.raises(ValueError, match=r"search.commit_at=None is not valid; accepted: a fraction with"):
        SearchConfig(algorithm="single-path", select="validation")
    no_validation = dataclasses.replace(task, validation=None)
    engine = Engine(hybrid(), no_validation, TrainConfig(max_steps=1, batch_size=2), tmp_path,
                    search=SearchConfig(select="validation", commit_at=1.0))
    engine.train()
    with pytest.raises(ValueError, match=r"search.select='validation' needs a held-out split, and task "
                                         r"'mad/in-context-recall' has no validation split"):
        engine.algorithm.commit(engine)
