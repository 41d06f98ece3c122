"""Stage `discretize`: α → its argmax one-hot per block; unused components and layers are dropped (paper, B.4).

The discretized hybrid is smaller and faster; optionally it is fine-tuned to recover what dropping the other
branches cost.

Reads:    `model` (default: retrain/model); the task, for example inputs and evaluation (optional: without
          a task, only the model and the parameter savings are written).
Writes:   discretize/model/ (the one-hot, pruned hybrid), discretize/discretize.json (parameters and forward
          time before and after, logits check, test metrics before and after fine-tuning),
          discretize/finetune/ (with fine_tune).
Supports: every registered family (each adapter prunes its own config and weights).

    manticore discretize --config run.yaml
    manticore discretize --set stages.discretize.model=my-hybrid --out runs/my-hybrid   # no config needed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import rundir
from .base import Stage, StageSettings, get_task
from .evaluate import evaluate
from .retrain import retrain

if TYPE_CHECKING:
    from ..run_config import RunConfig


@dataclass
class DiscretizeSettings(StageSettings):
    model: str | None = None
    """The hybrid directory to discretize (default: this run's retrain/model)."""
    fine_tune: bool = False
    """Fine-tune the discretized hybrid (the `train` budget) and report the test metrics after it too."""


def run(cfg: RunConfig, settings: DiscretizeSettings, resume: bool = False) -> dict:
    """One-hot the hybrid's α, drop unused branches, save it and the savings report."""
    from ...hybrid.build import load_hybrid
    from ...hybrid.discretize import discretize
    from ...train.parallel import is_main

    path = settings.model or cfg.stage_dir("retrain") / rundir.MODEL
    task = get_task(cfg, settings.task) if (settings.task or cfg.task) else None
    if task is None and settings.fine_tune:
        raise ValueError("stages.discretize.fine_tune=true needs a task: set `task` (or stages.discretize.task).")
    example = task.collate([task.test[i] for i in range(min(4, len(task.test)))])["input_ids"] if task else None
    model, report = discretize(load_hybrid(path), example_input_ids=example)
    out, train = cfg.stage_dir("discretize"), settings.train
    report = {"kind": "discretize", "model": str(path), **report}
    if task is not None:
        report["task"] = task.name
        report["test"] = evaluate(model, task, train.batch_size, max_batches=train.eval_batches)
    if settings.fine_tune:  # recover what dropping the other branches cost
        model, result = retrain(model, model.mixture_weights().detach(), task, train, out / "finetune", resume,
                                kind="discretize")
        report["test_after_fine_tuning"] = result["test"]
    if is_main():
        model.save_pretrained(out / rundir.MODEL)
        rundir.write_json(out / rundir.DISCRETIZE, report)
    return report


STAGE = Stage("discretize", "replace α by its argmax one-hot and drop unused branches (optionally fine-tune)",
              __doc__, DiscretizeSettings, run)
