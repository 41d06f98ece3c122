"""No success for failed work (issue 11, point 4): a diverged run stops with a named error and keeps its last
good checkpoint; a model that can't be saved is an error; the CLI reports expected failures in one line."""

import pytest
import torch

import manticore
from manticore import tasks
from manticore.cli import main
from manticore.errors import SaveFailed, TrainingDiverged
from manticore.train import Engine, TrainConfig
from manticore.rundir import CHECKPOINT
from conftest import tiny_config
from test_workflow import CONFIGS


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=16, vocab_size=16, seed=0)


def model(task):
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo", vocab=task.vocab_size)], num_blocks=1)


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(task, tmp_path):
    def poison(step, metrics):
        if step == 3:  # after the step-2 checkpoint: the next step's loss is NaN
            with torch.no_grad():
                next(engine.model.parameters()).fill_(float("nan"))

    engine = Engine(model(task), task, TrainConfig(max_steps=6, batch_size=8, checkpoint_every=2), tmp_path,
                    on_step=poison)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step 4: the training loss is nan .*"
                                               r"the last good checkpoint, .*checkpoint.pt, is kept"):
        engine.train()
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["step"] == 2 and all(torch.isfinite(t).all() for t in state["model"].values())


def test_a_huge_learning_rate_diverges_into_a_named_error(task, tmp_path):
    """The issue's probe (lr 1e6 and beyond): the run stops instead of saving a NaN model."""
    engine = Engine(model(task), task, TrainConfig(max_steps=40, batch_size=8, lr=1e12, clip_grad=None), tmp_path)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+: .*lr 1000000000000.0"):
        engine.train()
    assert not (tmp_path / CHECKPOINT).exists()


def test_a_model_that_cant_be_saved_is_an_error(tmp_path, capsys):
    (tmp_path / "pretrain" / "gpt_neo").mkdir(parents=True)
    (tmp_path / "pretrain" / "gpt_neo" / "model").write_text("in the way")
    code = main(["pretrain", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(tmp_path),
                 "--set", "train.max_steps=1", "--set", "train.eval_batches=1"])
    err = capsys.readouterr().err
    assert code == 2 and "Can't save the model to" in err and "a file is in the way" in err and "Traceback" not in err
    assert not (tmp_path / "pretrain" / "gpt_neo" / "result.json").exists()


def test_save_failed_is_a_manticore_error():
    assert issubclass(SaveFailed, manticore.errors.ManticoreError)
