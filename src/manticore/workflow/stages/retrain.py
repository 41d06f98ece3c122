"""Stage `retrain`: freeze the searched α, rewind to the pre-search weights, fine-tune (paper, B.5).

Reads:    search/result.json (α) and search/initial/ (the hybrid before search).
Writes:   retrain/{model/, result.json, metrics.jsonl, checkpoint.pt}.
Supports: --resume; DDP under torchrun.

    manticore retrain --config run.yaml
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ... import rundir
from ...train.config import TrainConfig
from .base import Stage, StageSettings, check_vocab, finish, get_task, searched_alphas

if TYPE_CHECKING:
    from ...hybrid.model import ManticorePreTrainedModel
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class RetrainSettings(StageSettings):
    pass


def retrain(initial: str | Path | ManticorePreTrainedModel, alphas, task: Task, train: TrainConfig,
            out_dir: str | Path, resume: bool = False, kind: str = "retrain",
            label: str | None = None) -> tuple[ManticorePreTrainedModel, dict]:
    """Rewind to `initial` (a hybrid, or its directory), set and freeze α (L, K), fine-tune; saves out_dir/model
    and returns (hybrid, result). kind: the stage that asks, recorded in result.json; label: its progress bar's
    (default: the directory's name)."""
    from ...hybrid.build import load_hybrid
    from ...hybrid.model import ManticorePreTrainedModel
    from ...train.engine import Engine

    hybrid = initial if isinstance(initial, ManticorePreTrainedModel) else load_hybrid(initial)
    check_vocab(hybrid, task)
    hybrid.set_mixture_weights(alphas)
    hybrid.freeze_mixture_weights()
    engine = Engine(hybrid, task, train, out_dir, label=label)
    return hybrid, finish(kind, hybrid, task, engine, engine.train(resume), out_dir)


def run(cfg: RunConfig, settings: RetrainSettings, resume: bool = False) -> dict:
    task = get_task(cfg, settings.task)
    initial = cfg.stage_dir("search") / rundir.INITIAL
    _, result = retrain(initial, searched_alphas(cfg), task, settings.train, cfg.stage_dir("retrain"), resume)
    return result


STAGE = Stage("retrain", "freeze the searched mixture weights, rewind to the pre-search weights, fine-tune",
              __doc__, RetrainSettings, run)
