"""Stage `eval`: evaluate a saved model on the task, without training.

Reads:    `model` (a saved hybrid or Hugging Face model directory; default: retrain/model).
Writes:   eval/result.json (the test metrics: loss, accuracy, and perplexity for language tasks).
Supports: DDP under torchrun (the split is shared between processes and the sums reduced).

    manticore eval --config run.yaml --set stages.eval.model=runs/demo/discretize/model
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import rundir
from .base import Stage, StageSettings, check_vocab, get_task

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class EvalSettings(StageSettings):
    model: str | None = None
    """The model directory to evaluate (default: this run's retrain/model). `train.batch_size` and
    `train.eval_batches` set the evaluation's batches."""


def evaluate(model: PreTrainedModel, task: Task, batch_size: int = 16, split: str = "test",
             max_batches: int | None = None) -> dict[str, float]:
    """Metrics of a model on a task split, without training."""
    from ...train.metrics import evaluate_model

    check_vocab(model, task)
    return evaluate_model(model, task, split, batch_size, max_batches)


def run(cfg: RunConfig, settings: EvalSettings, resume: bool = False) -> dict:
    from ...hybrid.build import load_hybrid
    from ...train.parallel import is_main

    task = get_task(cfg, settings.task)
    path = settings.model or cfg.stage_dir("retrain") / rundir.MODEL
    metrics = evaluate(load_hybrid(path), task, settings.train.batch_size, max_batches=settings.train.eval_batches)
    if is_main():
        rundir.write_result(cfg.stage_dir("eval"), "eval", task.name, metrics, model=str(path))
    return {"test": metrics}


STAGE = Stage("eval", "evaluate a saved model on the task", __doc__, EvalSettings, run)
