"""Experiment trackers: TensorBoard event files read back, W&B calls, and the errors."""

import json
import sys
from types import SimpleNamespace

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import Engine, SearchConfig, TrainConfig
from manticore.rundir import METRICS
from manticore.train.trackers import TENSORBOARD_DIR, scalars
from conftest import tiny_config


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=48, num_test=16, seq_len=16, vocab_size=16, seed=0)


def hybrid(task):
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=task.vocab_size), tiny_config("mamba", vocab=task.vocab_size)], num_blocks=2)


def search_run(task, out, report_to):
    config = TrainConfig(max_steps=3, batch_size=16, lr=1e-3, arch_lr=0.05, log_every=1, report_to=report_to)
    Engine(hybrid(task), task, config, out, search=SearchConfig("darts", "alternating")).train()
    return [json.loads(line) for line in (out / METRICS).read_text().splitlines()]


def test_tensorboard_event_file_holds_loss_accuracy_learning_rates_and_alphas(task, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = search_run(task, tmp_path, ["tensorboard"])
    events = EventAccumulator(str(tmp_path / TENSORBOARD_DIR))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"train/loss", "train/accuracy", "train/perplexity", "lr/model", "lr/arch", "test/loss",
                "test/accuracy", "test/macro_accuracy"}
    expected |= {f"alpha/block{l}/{name}" for l in range(2) for name in ("gpt_neo", "mamba")}
    assert expected <= tags
    for record in log:  # every logged number is in the event file at its step, as written to metrics.jsonl
        for name, value in scalars(record, ["gpt_neo", "mamba"]).items():
            (event,) = [e for e in events.Scalars(name) if e.step == record["step"]]
            assert event.value == pytest.approx(value, rel=1e-6, abs=1e-7), name
    alphas = [[e.value for e in events.Scalars(f"alpha/block0/{name}")] for name in ("gpt_neo", "mamba")]
    assert [a + b for a, b in zip(*alphas)] == pytest.approx([1.0] * 3)  # α on the simplex, every step
    assert [e.value for e in events.Scalars("lr/arch")] == pytest.approx([0.05 * 2 / 3, 0.05 / 3, 0.0])  # linear decay


def test_wandb_gets_the_same_scalars(task, tmp_path, monkeypatch):
    calls = []

    class Run:
        def log(self, values, step):
            calls.append((step, values))

        def finish(self):
            calls.append("finish")

    def init(**kwargs):
        calls.append(kwargs)
        return Run()

    monkeypatch.setitem(sys.modules, "wandb", SimpleNamespace(init=init))
    log = search_run(task, tmp_path, ["wandb"])
    assert calls[0]["config"]["report_to"] == ["wandb"] and calls[0]["dir"] == str(tmp_path)
    assert calls[-1] == "finish"
    assert [(r["step"], scalars(r, ["gpt_neo", "mamba"])) for r in log] == calls[1:-1]


def test_unknown_or_missing_tracker_is_named(task, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"report_to=\['mlflow'\] is not valid; accepted: a list of trackers "
                                         r"\(tensorboard, wandb\)"):
        TrainConfig(report_to=["mlflow"])
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    with pytest.raises(ImportError, match=r"needs the wandb package: pip install '.\[track\]' in a clone"):
        search_run(task, tmp_path, ["wandb"])


def test_report_to_may_change_on_resume(task, tmp_path):
    config = TrainConfig(max_steps=4, batch_size=16, checkpoint_every=2, log_every=1)
    Engine(hybrid(task), task, config, tmp_path).train()
    again = TrainConfig(**{**config.to_dict(), "max_steps": 4, "report_to": ["tensorboard"]})
    assert Engine(hybrid(task), task, again, tmp_path).train(resume=True)  # not refused: trackers don't change training


def test_alpha_tags_name_the_components():
    from manticore.train.trackers import component_tags

    record = {"step": 1, "split": "train", "alphas": [[0.25, 0.75]]}
    assert scalars(record, ["gpt_neo", "mamba"]) == {"alpha/block0/gpt_neo": 0.25, "alpha/block0/mamba": 0.75}
    assert component_tags(["llama", "llama", "mamba"], 3) == ["llama0", "llama1", "mamba"]
    assert component_tags(None, 2) == component_tags(["gpt_neo"], 2) == ["component0", "component1"]
