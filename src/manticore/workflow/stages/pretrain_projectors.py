"""Stage `pretrain-projectors`: components frozen; projectors, α, the new embedding and head train on text.

The paper's projector pretraining (Appendix B.5): the hybrid learns to translate between its components'
feature spaces on general text before it sees the downstream task.

Reads:    the run's components (pretrained by `pretrain` when given as configs).
Writes:   pretrain-projectors/{model/, result.json, metrics.jsonl, checkpoint.pt}; later stages start from
          model/ (a causal-LM hybrid; a classification task gets a new head on it).
Supports: --resume; DDP under torchrun.

    manticore pretrain-projectors --config run.yaml
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...train.config import TrainConfig
from .base import GENERAL_TEXT, Stage, StageSettings, build_hybrid, check_vocab, finish, get_task

if TYPE_CHECKING:
    from ...hybrid.model import ManticorePreTrainedModel
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class PretrainProjectorsSettings(StageSettings):
    task: dict[str, Any] | None = None
    """The general text: {name: ..., settings}; default: the embedded Shakespeare corpus (lm/shakespeare)."""


def pretrain_projectors(hybrid: ManticorePreTrainedModel, task: Task, train: TrainConfig, out_dir: str | Path,
                        resume: bool = False) -> dict:
    """Train everything but the components' own parameters (paper, B.5); saves out_dir/model."""
    from ...train.engine import Engine

    check_vocab(hybrid, task)
    for p in hybrid.parameters():
        p.requires_grad_(True)
    for p in hybrid.component_parameters():
        p.requires_grad_(False)
    engine = Engine(hybrid, task, train, out_dir)
    result = finish("pretrain-projectors", hybrid, task, engine, engine.train(resume), out_dir)
    for p in hybrid.component_parameters():
        p.requires_grad_(True)
    return result


def run(cfg: RunConfig, settings: PretrainProjectorsSettings, resume: bool = False) -> dict:
    task = get_task(cfg, settings.task, GENERAL_TEXT)
    hybrid = build_hybrid(cfg, task, causal_lm=True)  # general text: always a language model
    return pretrain_projectors(hybrid, task, settings.train, cfg.stage_dir("pretrain-projectors"), resume)


STAGE = Stage("pretrain-projectors",
              "components frozen; train projectors, mixture weights, embedding and head on text", __doc__,
              PretrainProjectorsSettings, run)
