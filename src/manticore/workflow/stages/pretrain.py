"""Stage `pretrain`: train the components given as configs from scratch on a corpus.

These stand in for pretrained language models when none can be downloaded (the demo's GPT-Neo and Mamba).

Reads:    the run's `components` given as `config` (those given as `path` are already pretrained).
Writes:   pretrain/<component>/{model/, result.json, metrics.jsonl, checkpoint.pt}; later stages use model/.
Supports: every registered family; the fast CPU selective scan for Mamba; --resume; reuse: a component
          already pretrained with the same config, task and training settings is not trained again.

    manticore pretrain --config run.yaml [--set stages.pretrain.train.max_steps=400]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import rundir
from ...train.config import TrainConfig
from .base import GENERAL_TEXT, Stage, StageSettings, check_vocab, finish, get_task

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class PretrainSettings(StageSettings):
    task: dict[str, Any] | None = None
    """The corpus: {name: ..., settings}; default: the embedded Shakespeare corpus (lm/shakespeare)."""


def pretrain(component: PretrainedConfig | PreTrainedModel, task: Task, train: TrainConfig, out_dir: str | Path,
             resume: bool = False, **extra: Any) -> tuple[PreTrainedModel, dict]:
    """Train a component model (a config: from scratch, seeded by train.seed) on a language task; saves it
    to out_dir/model and returns (model, result)."""
    import torch
    from transformers import AutoModelForCausalLM, PretrainedConfig

    from ...kernels import use_fast_scan
    from ...train.engine import Engine

    if isinstance(component, PretrainedConfig):
        torch.manual_seed(train.seed)
        component = AutoModelForCausalLM.from_config(component)
    use_fast_scan(component)  # Mamba (v1) trains with the fast CPU selective scan; other families unchanged
    check_vocab(component, task)
    engine = Engine(component, task, train, out_dir)
    return component, finish("pretrain", component, task, engine, engine.train(resume), out_dir, **extra)


def run(cfg: RunConfig, settings: PretrainSettings, resume: bool = False) -> dict:
    """Pretrain each component given as a config, unless one with the same settings is already there."""
    from ...train.parallel import is_main

    task, results = None, {}
    for spec in cfg.components:
        if spec.config is None:
            continue  # given as a checkpoint: already pretrained
        out = cfg.stage_dir("pretrain") / spec.name
        recipe = {"config": spec.config, "task": settings.task or GENERAL_TEXT, "train": settings.train.to_dict()}
        previous = rundir.read_json(out / rundir.RESULT) if (out / rundir.RESULT).exists() else {}
        if not resume and (out / rundir.MODEL).exists() and previous.get("settings") == recipe:
            if is_main():
                print(f"Reusing the pretrained {spec.name} in {out} (same config, task and training settings).")
            results[spec.name] = previous
            continue
        task = task or get_task(cfg, settings.task, GENERAL_TEXT)
        _, results[spec.name] = pretrain(spec.build_config(), task, settings.train, out, resume, settings=recipe)
    return results


STAGE = Stage("pretrain", "train the components given as configs from scratch on a corpus", __doc__,
              PretrainSettings, run)
