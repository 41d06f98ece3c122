"""What a stage is, and what stages share: building the run's task and hybrid, and finishing a training run.

A stage module holds a docstring (what it reads, writes and supports), a settings dataclass, the function
over models, the runner over the run config, and `STAGE = Stage(...)`, which the registry
(`stages/__init__.py`) lists. Heavy imports (torch, transformers) sit inside functions throughout
`stages/`, so that `manticore <stage> --help` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from ... import rundir
from ...registry import Registry
from ...train.config import TrainConfig

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from ...hybrid.model import ManticorePreTrainedModel
    from ...tasks.base import Task
    from ...train.engine import Engine
    from ..run_config import RunConfig

GENERAL_TEXT = {"name": "lm/shakespeare"}  # the default corpus of pretraining (the embedded one)


@dataclass
class StageSettings:
    """Settings every training stage has: its task and its training budget."""

    task: dict[str, Any] | None = None
    """The task: {name: ..., any setting of that task} (`manticore tasks` lists them); default: the run's task."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """How to train (TrainConfig): the run's `train` section, overridden field by field here."""


@dataclass
class NoSettings:
    """This stage has no settings of its own."""


@dataclass(frozen=True)
class Stage:
    """One stage of the workflow, as the registry, the CLI, run-config validation and the report see it."""

    name: str
    """The stage's name: its `stages:` section, its subcommand and its folder in the run directory."""
    help: str
    """One line for `manticore --help`."""
    doc: str
    """What the stage reads, writes and supports (its module docstring) for `manticore <stage> --help`."""
    settings: type
    """Its settings dataclass."""
    run: Callable[[RunConfig, Any, bool], dict]
    """The runner: run(run_config, settings, resume) -> a JSON-ready summary."""
    train_defaults: str | None = None
    """Another stage whose `train` settings this one's default to (baselines: retrain's budget)."""


# The registry of stages, in workflow order; the built-in ones register in this package's __init__.
STAGES: Registry[Stage] = Registry("stage", names_of=lambda stage: stage.name,
                                   check=lambda stage: isinstance(stage, Stage), accepted="a Stage")


# -- the run's task and hybrid --------------------------------------------------------------------------------
def get_task(cfg: RunConfig, settings: dict[str, Any] | None, default: dict[str, Any] | None = None) -> Task:
    """tasks.get(name, **settings) of a stage's task (else `default`, else the run's); `models: components`
    (lm/completions) means this run's components."""
    from ... import tasks

    settings = dict(settings or default or cfg.task)
    if "name" not in settings:
        raise ValueError("This stage needs a task: set `task` (or the stage's `task`) with a `name` "
                         "(`manticore tasks` lists them).")
    if settings.get("models") == "components":
        settings["models"] = component_sources(cfg)
    return tasks.get(settings.pop("name"), **settings)


def component_sources(cfg: RunConfig) -> list:
    """Each component as a checkpoint path (given, or pretrained by this run) or a config (random init)."""
    sources = []
    for spec in cfg.components:
        pretrained = cfg.stage_dir("pretrain") / spec.name / rundir.MODEL
        if spec.path is not None:
            sources.append(spec.path)
        elif pretrained.exists():
            sources.append(str(pretrained))
        else:
            sources.append(spec.build_config())
    if not sources:
        raise ValueError("The run config lists no components.")
    return sources


def is_causal_lm(cfg: RunConfig, task: Task) -> bool:
    """Whether the run's hybrid has an LM head for this task (`head`, or from the task's kind with 'auto')."""
    return cfg.head == "causal-lm" or (cfg.head == "auto" and task.kind == "lm")


def build_hybrid(cfg: RunConfig, task: Task, embeddings_from: int | None = None, causal_lm: bool | None = None,
                 seed: int | None = None):
    """A new hybrid of the run's components, with the head the task needs; its new weights (and components
    given as configs) are initialised from `seed` (default: the run's seed)."""
    import torch

    from ...hybrid.model import ManticoreForCausalLM, ManticoreForSequenceClassification

    torch.manual_seed(cfg.seed if seed is None else seed)
    causal_lm = is_causal_lm(cfg, task) if causal_lm is None else causal_lm
    extra = {} if causal_lm else {"num_labels": task.num_labels, "pad_token_id": task.pad_token_id}
    cls = ManticoreForCausalLM if causal_lm else ManticoreForSequenceClassification
    return cls.from_components(component_sources(cfg), num_blocks=cfg.num_blocks, vocab_size=cfg.vocab_size,
                               embeddings_from=cfg.embeddings_from if embeddings_from is None else embeddings_from,
                               projector_init=cfg.projector_init, **extra)


def initial_hybrid(cfg: RunConfig, task: Task, seed: int | None = None):
    """The hybrid a downstream stage starts from: the one this run pretrained (pretrain-projectors) if it has
    one, with a new classification head if the task needs one; else a new hybrid. New weights are initialised
    from `seed` (default: the run's seed)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from ...hybrid.model import ManticoreForCausalLM

    pretrained = cfg.stage_dir("pretrain-projectors") / rundir.MODEL
    if not pretrained.exists():
        return build_hybrid(cfg, task, seed=seed)
    if is_causal_lm(cfg, task):
        return ManticoreForCausalLM.from_pretrained(pretrained)
    torch.manual_seed(cfg.seed if seed is None else seed)  # a new classification head on the pretrained hybrid
    return AutoModelForSequenceClassification.from_pretrained(pretrained, num_labels=task.num_labels,
                                                              pad_token_id=task.pad_token_id)


def searched_alphas(cfg: RunConfig) -> list[list[float]]:
    """α found by this run's search stage."""
    path = cfg.stage_dir("search")
    if not (path / rundir.RESULT).exists():
        raise ValueError(f"No searched mixture weights at {path / rundir.RESULT}: run the search stage first.")
    return rundir.read_result(path)["alphas"]


def with_seed(train: TrainConfig, seed: int) -> TrainConfig:
    return TrainConfig(**{**train.to_dict(), "seed": seed})


# -- training runs ------------------------------------------------------------------------------------------------
def check_vocab(model: PreTrainedModel, task: Task) -> None:
    """Raise if the model's vocabulary can't hold the task's token ids."""
    vocab = model.get_input_embeddings().num_embeddings
    if vocab < task.vocab_size:
        raise ValueError(f"The model's vocabulary ({vocab}) is smaller than task {task.name!r}'s ({task.vocab_size}); "
                         f"build it with vocab_size >= {task.vocab_size}.")


def save_model(model: PreTrainedModel, path: Path) -> None:
    """save_pretrained, and an error (not transformers' one log line) if the model did not land there."""
    from ...errors import SaveFailed

    if path.exists() and not path.is_dir():
        raise SaveFailed(f"Can't save the model to {path}: a file is in the way. Move it, or use another out_dir.")
    model.save_pretrained(path)
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise SaveFailed(f"Saving the model to {path} failed: no config.json and weights there afterwards.")


def finish(kind: str, model: PreTrainedModel | ManticorePreTrainedModel, task: Task, engine: Engine,
           metrics: dict[str, float], out_dir: str | Path, **extra: Any) -> dict[str, Any]:
    """Save the trained model (with the task's tokenizer, if it has one) to out_dir/model and its result.json
    (kind, task, test metrics, α for a hybrid)."""
    alphas = model.mixture_weights().detach().tolist() if hasattr(model, "mixture_weights") else None
    if engine.finished_before and (Path(out_dir) / rundir.RESULT).exists() and (Path(out_dir) / rundir.MODEL).is_dir():
        return rundir.read_json(Path(out_dir) / rundir.RESULT)  # --resume on a finished run: nothing is rewritten
    if engine.rank != 0:
        return rundir.result_record(kind, task.name, metrics, alphas, **extra)
    save_model(model, Path(out_dir) / rundir.MODEL)
    if task.tokenizer is not None:  # so that pipeline() and lm-eval load the model's directory as it is
        task.tokenizer.hf_tokenizer().save_pretrained(Path(out_dir) / rundir.MODEL)
    result = rundir.write_result(out_dir, kind, task.name, metrics, alphas, **extra)
    if alphas is not None:  # a hybrid: its model card names the stage that trained it and the test metrics
        from ...hybrid.card import write_model_card

        write_model_card(Path(out_dir) / rundir.MODEL, model, [{"stage": kind, **result}])
    return result
