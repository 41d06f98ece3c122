"""The engine: learning, exact resume, search algorithms, parameter groups, bilevel steps, metrics."""

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import manticore
from manticore import tasks
from manticore.tasks import IGNORE_INDEX, SequenceDataset, Task
from manticore.train import Engine, SearchConfig, TrainConfig
from manticore.train.metrics import CLASS_TALLIES, batch_loss, evaluate_model, summarise
from manticore.rundir import CHECKPOINT, METRICS
from conftest import tiny_config


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=96, num_test=32, seq_len=32, vocab_size=16, seed=0)


def hybrid(task, seed=0):
    torch.manual_seed(seed)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=task.vocab_size), tiny_config("llama", vocab=task.vocab_size)], num_blocks=2)


def read_log(path):
    return [json.loads(line) for line in (path / METRICS).read_text().splitlines()]


def test_training_lowers_the_loss(task, tmp_path):
    engine = Engine(hybrid(task), task, TrainConfig(max_steps=15, batch_size=16, lr=3e-3, log_every=1), tmp_path)
    before = engine.evaluate()["loss"]
    after = engine.train()["loss"]
    assert after < before - 0.2
    log = read_log(tmp_path)
    assert [r["step"] for r in log if r["split"] == "train"] == list(range(1, 16))
    assert log[-1]["split"] == "test" and "perplexity" in log[-1]
    assert (tmp_path / CHECKPOINT).exists()


@pytest.mark.parametrize("search", [None, SearchConfig("gaea", "alternating", bilevel=False)])
def test_resume_equals_an_uninterrupted_run(task, tmp_path, search):
    config = TrainConfig(max_steps=8, batch_size=16, lr=3e-3, arch_lr=0.05, log_every=1, checkpoint_every=3)
    full = Engine(hybrid(task), task, config, tmp_path / "full", search=search)
    full.train()

    class Crash(Exception):
        pass

    def crash(step, metrics):
        if step == 5:  # after the step-3 checkpoint; steps 4 and 5 are lost
            raise Crash

    interrupted = Engine(hybrid(task), task, config, tmp_path / "cut", search=search, on_step=crash)
    with pytest.raises(Crash):
        interrupted.train()
    resumed = Engine(hybrid(task, seed=123), task, config, tmp_path / "cut", search=search)  # weights come from the checkpoint
    resumed.train(resume=True)
    assert read_log(tmp_path / "cut") == read_log(tmp_path / "full")
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("algorithm", ["darts", "gaea", "gumbel"])
@pytest.mark.parametrize("updates", ["simultaneous", "alternating"])
def test_search_moves_alphas_and_logs_the_trajectory(task, tmp_path, algorithm, updates):
    model = hybrid(task)
    config = TrainConfig(max_steps=4, batch_size=16, lr=1e-3, arch_lr=0.1, log_every=100)
    Engine(model, task, config, tmp_path, search=SearchConfig(algorithm, updates)).train()
    alphas = model.mixture_weights()
    assert not torch.allclose(alphas, torch.full_like(alphas, 0.5))
    assert torch.allclose(alphas.sum(-1), torch.ones(2))
    trajectory = [r["alphas"] for r in read_log(tmp_path) if r["split"] == "train"]
    assert len(trajectory) == 4  # every step during search
    model.train()
    assert torch.equal(model.mixture_weights(), model.mixture_weights())  # sampling is off after search


def test_bilevel_architecture_steps_use_the_held_out_split(task, tmp_path):
    seen = []
    model = hybrid(task)
    original = model.forward

    def spy(input_ids=None, **kwargs):
        seen.append(input_ids[0, :8].tolist())
        return original(input_ids=input_ids, **kwargs)

    model.forward = spy
    held_out = {tuple(task.test[i]["input_ids"][:8].tolist()) for i in range(len(task.test))}
    engine = Engine(model, task, TrainConfig(max_steps=2, batch_size=8, log_every=100), tmp_path,
                    search=SearchConfig("darts", "alternating", bilevel=True), arch_split="test")
    engine.train_step()
    assert tuple(seen[0]) in held_out and tuple(seen[1]) not in held_out  # arch batch, then model batch


def test_frozen_mixture_weights_do_not_move(task, tmp_path):
    model = hybrid(task)
    model.set_mixture_weights([0.3, 0.7])
    model.freeze_mixture_weights()
    Engine(model, task, TrainConfig(max_steps=3, batch_size=16, lr=1e-3), tmp_path).train()
    assert torch.allclose(model.mixture_weights(), torch.tensor([[0.3, 0.7]] * 2), atol=1e-6)




@pytest.mark.parametrize("field,value", [("max_steps", 0), ("batch_size", -1), ("schedule", "cosine"),
                                         ("precision", "fp8"), ("clip_grad", 0)])
def test_train_config_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_search_config_validation():
    with pytest.raises(ValueError, match="search.algorithm"):
        SearchConfig(algorithm="random")
    with pytest.raises(ValueError, match="bilevel"):
        SearchConfig(updates="simultaneous", bilevel=True)


def test_bf16_autocast_trains(task, tmp_path):
    engine = Engine(hybrid(task), task, TrainConfig(max_steps=3, batch_size=16, lr=3e-3, precision="bf16"), tmp_path)
    metrics = engine.train()
    assert torch.isfinite(torch.tensor(metrics["loss"]))
    assert all(p.dtype == torch.float32 for p in engine.model.parameters())  # autocast: fp32 master weights


def test_gradient_accumulation_matches_a_larger_batch(task, tmp_path):
    """2 micro-batches of 8 accumulate to the gradient of one batch of 16 (the same 16 examples)."""
    def gradients(batch_size, accum):
        model = hybrid(task)
        engine = Engine(model, task, TrainConfig(max_steps=1, batch_size=batch_size, grad_accum=accum),
                        tmp_path / f"{batch_size}x{accum}")
        engine.backward(engine.stream)
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    one, two = gradients(16, 1), gradients(8, 2)
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-6, rtol=1e-4), name


# -- metrics: MAD's macro accuracy beside plain accuracy -----------------------------------------------------
class Oracle(torch.nn.Module):
    """Predicts its input: logits one-hot at input_ids (lm, (b, t, C)) or at input_ids[:, 0] (classification)."""

    def __init__(self, num_classes, kind="lm"):
        super().__init__()
        self.num_classes, self.kind = num_classes, kind
        self.scale = torch.nn.Parameter(torch.ones(()))  # evaluate_model reads the device off a parameter

    def forward(self, input_ids, attention_mask=None):
        ids = input_ids if self.kind == "lm" else input_ids[:, 0]
        return SimpleNamespace(logits=self.scale * F.one_hot(ids, self.num_classes).float())


def tiny_task(kind, input_ids, labels, num_classes):
    data = SequenceDataset(torch.tensor(input_ids), torch.tensor(labels))
    return Task(name="tiny", kind=kind, vocab_size=num_classes, train=data, test=data,
                num_labels=num_classes if kind == "classification" else None)


IGN = IGNORE_INDEX
# Predictions are the inputs. Scored (prediction, target): (0,0)+ (1,2)- (3,3)+ | (1,1)+ (4,0)- (3,3)+; the
# ignored positions predict 2 and 5. Per class c of 7: targets 2,1,1,2,0,0,0; right 1,1,0,2,0,0,0; predicted
# (scored) 1,2,0,2,1,0,0. Classes in targets or predictions: 0..4 (4 only predicted: recall 0; 5 only at an
# ignored position and 6 nowhere are left out), recalls 1/2, 1, 0, 1, 0 -> macro 2.5 / 5 = 0.5; accuracy 4/6.
LM_INPUTS, LM_LABELS = [[0, 1, 2, 3], [1, 4, 5, 3]], [[0, 2, IGN, 3], [1, 0, IGN, 3]]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_evaluate_reports_mads_macro_accuracy_beside_accuracy_exactly_over_the_split(batch_size):
    task = tiny_task("lm", LM_INPUTS, LM_LABELS, 7)
    metrics = evaluate_model(Oracle(7), task, batch_size=batch_size)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_accuracy"] == pytest.approx(0.5)
    assert list(metrics) == ["loss", "accuracy", "macro_accuracy", "perplexity"]


def test_batch_loss_tallies_each_class_and_summarise_averages_recall_over_the_classes_present():
    batch = tiny_task("lm", LM_INPUTS, LM_LABELS, 7).collate(
        [{"input_ids": torch.tensor(i), "labels": torch.tensor(lab)} for i, lab in zip(LM_INPUTS, LM_LABELS)])
    _, stats = batch_loss(Oracle(7), batch, "lm")
    assert stats["class_count"].tolist() == [2, 1, 1, 2, 0, 0, 0]
    assert stats["class_correct"].tolist() == [1, 1, 0, 2, 0, 0, 0]
    assert stats["class_predicted"].tolist() == [1, 2, 0, 2, 1, 0, 0]
    assert (stats["correct"], stats["count"]) == (4, 6)
    assert summarise(stats, "lm")["macro_accuracy"] == pytest.approx(0.5)
    nothing = {**stats, **{k: torch.zeros(7, dtype=torch.long) for k in CLASS_TALLIES}}
    assert summarise(nothing, "lm")["macro_accuracy"] == 0.0  # nothing scored


def test_classification_reports_macro_accuracy_too():
    # (prediction, label): (0,0)+ (0,0)+ (0,0)+ (1,0)- (2,1)-: recalls 3/4 (class 0), 0 (1), 0 (2, predicted only)
    task = tiny_task("classification", [[0], [0], [0], [1], [2]], [0, 0, 0, 0, 1], 4)
    metrics = evaluate_model(Oracle(4, "classification"), task, batch_size=2)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["macro_accuracy"] == pytest.approx(0.75 / 3)
    assert "perplexity" not in metrics


def test_training_records_keep_their_metrics(task, tmp_path):
    engine = Engine(hybrid(task), task, TrainConfig(max_steps=1, batch_size=8), tmp_path)
    assert set(engine.train_step()) == {"loss", "accuracy", "perplexity"}
    assert {"accuracy", "macro_accuracy"} <= set(engine.evaluate())
