"""Stage `discretize`: α → its argmax one-hot per block; unused components and layers are dropped (paper, B.4).

The discretized hybrid is smaller and faster; optionally it is fine-tuned. The layout is the argmax of the
model's α, or `layout`, or the one a cost-aware search chose within its budget (search/result.json's
`layout`). Fine-tuning rewinds by default (`rewind: true`): the layout is cut from the hybrid as it was before
the search (search/initial) and trained with the `train` budget, so its blocks start from the pretrained
components' weights, not from weights that co-adapted with branches the layout drops (the paper's
discretize-and-retrain). A layout that reduces to one component starts from that component alone, with its own
embedding and head rather than the hybrid's (which projector pretraining fitted to the mixture), so it trains
exactly as that component's baseline does.

Reads:    `model` (default: retrain/model); the task, for example inputs and evaluation (optional: without
          a task, only the model and the parameter savings are written); search/initial/ and
          search/result.json when rewinding or taking the search's layout.
Writes:   discretize/model/ (the one-hot, pruned hybrid), discretize/discretize.json (parameters and forward
          time before and after, logits check, test metrics before and after fine-tuning),
          discretize/finetune/ (with fine_tune).
Supports: every registered family (each adapter prunes its own config and weights).

    manticore discretize --config run.yaml
    manticore discretize --set stages.discretize.model=my-hybrid --out runs/my-hybrid   # no config needed
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    layout: list[int] | None = None
    """One component index per block to discretize to (default: the search's layout within budget, if it has
    one, else the argmax of α)."""
    rewind: bool = True
    """Fine-tune the layout cut from the pre-search hybrid (search/initial), not from `model`'s co-adapted
    weights; needs this run's search stage (false: fine-tune `model` discretized)."""


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
    layout = settings.layout or searched_layout(cfg)
    model, report = discretize(load_hybrid(path), example_input_ids=example, choice=layout)
    out, train = cfg.stage_dir("discretize"), settings.train
    report = {"kind": "discretize", "model": str(path), **report}
    if task is not None:
        report["task"] = task.name
        report["test"] = evaluate(model, task, train.batch_size, max_batches=train.eval_batches)
    if settings.fine_tune:
        start = rewound_start(cfg, task, report["choice"], cfg.stage_dir("search") / rundir.INITIAL) \
            if settings.rewind else model
        model, result = fine_tune_layout(start, report["choice"], task, train, out / "finetune", resume)
        report["rewound_to"] = rewound_to(cfg, report["choice"]) if settings.rewind else None
        report["test_after_fine_tuning"] = result["test"]
    if is_main():
        model.save_pretrained(out / rundir.MODEL)
        rundir.write_json(out / rundir.DISCRETIZE, report)
    return report


def searched_layout(cfg: RunConfig) -> list[int] | None:
    """The layout a cost-aware search chose within its budget (search/result.json's `layout`), if any."""
    path = cfg.stage_dir("search")
    return rundir.read_result(path).get("layout") if (path / rundir.RESULT).exists() else None


def rewound_start(cfg: RunConfig, task, choice: list[int], initial: Path):
    """Where a layout's fine-tuning starts: a layout of one component (component k in every block) is that
    component alone, with its own embedding and head (`build_hybrid(embeddings_from=k)`), so it trains exactly as
    the component's baseline does; any other layout is cut from the hybrid before the search, whose shared
    embedding and head the projector pretraining fitted to the mixture."""
    from .base import build_hybrid

    if len(set(choice)) == 1:
        return build_hybrid(cfg, task, embeddings_from=choice[0])
    return initial


def rewound_to(cfg: RunConfig, choice: list[int]) -> str:
    if len(set(choice)) == 1:
        return f"component {cfg.components[choice[0]].name} alone, with its own embedding and head"
    return str(cfg.stage_dir("search") / rundir.INITIAL)


def fine_tune_layout(initial: Path | Any, choice: list[int], task, train, out_dir, resume: bool = False,
                     kind: str = "discretize"):
    """Fine-tune the layout `choice` with the `train` budget, cut from `initial` (a hybrid directory, e.g. the
    pre-search hybrid, or a hybrid). Returns (the trained discretized model, its result)."""
    from ...hybrid.build import load_hybrid
    from ...hybrid.discretize import discretize

    if isinstance(initial, (str, Path)):
        if not (Path(initial) / "config.json").exists():
            raise ValueError(f"Rewinding needs the hybrid before the search at {initial}: run the search stage first, "
                             "or set stages.discretize.rewind: false to fine-tune the discretized model itself.")
        initial = load_hybrid(initial)
    model, _ = discretize(initial, choice=choice)
    return retrain(model, model.mixture_weights().detach(), task, train, out_dir, resume, kind=kind)


STAGE = Stage("discretize", "replace α by its argmax one-hot and drop unused branches (optionally fine-tune)",
              __doc__, DiscretizeSettings, run)
