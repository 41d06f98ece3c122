"""A run, described by one YAML file: components, L, the task, and each stage's settings.

    out_dir: runs/demo
    components:                      # checkpoint dirs / hub ids, or configs to pretrain from scratch
      - {name: gpt_neo, config: {model_type: gpt_neo, hidden_size: 64, num_layers: 4, ...}}
      - {name: mamba, path: state-spaces/mamba-130m-hf}
    num_blocks: 2
    task: {name: mad/in-context-recall, preset: manticore-hard}
    train: {max_steps: 200, batch_size: 16}        # defaults of every stage's TrainConfig
    stages:                                        # per-stage settings (train overrides, search, ...)
      pretrain-projectors: {task: {name: lm/shakespeare}, train: {lr: 1.0e-3}}
      search: {search: {algorithm: darts}}
    run: [pretrain, pretrain-projectors, search, retrain, baselines, report]

`load_run_config(path, overrides)` validates everything before any training starts; an unknown field, a
wrong type, an impossible L or a missing file raises a ValueError naming the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .config import SearchConfig, TrainConfig, from_dict

STAGES = ("pretrain", "pretrain-projectors", "search", "retrain", "baselines", "discretize", "program", "sweep",
          "eval", "report")
STAGE_FIELDS = {"train", "search", "task", "seeds", "method", "grid_step", "per_block", "fine_tune", "proxy_tasks",
                "proxy_width", "model", "proxy_preset", "proxy_num_train", "proxy_train"}


@dataclass
class ComponentSpec:
    """One component: exactly one of `path` (checkpoint dir or hub id) or `config` (from scratch)."""

    name: str
    path: str | None = None
    config: dict[str, Any] | None = None

    def __post_init__(self):
        if (self.path is None) == (self.config is None):
            raise ValueError(f"components[{self.name}]: give exactly one of 'path' or 'config'.")
        if self.config is not None and "model_type" not in self.config:
            raise ValueError(f"components[{self.name}].config needs a 'model_type' (e.g. gpt_neo, mamba).")


@dataclass
class RunConfig:
    """Everything about one run. Stage sections override the shared `train` settings."""

    out_dir: str = "runs/run"
    """Where every stage writes its folder (out_dir/<stage>)."""
    components: list[ComponentSpec] = field(default_factory=list)
    """The component models, in order (k = 0, 1, ...)."""
    num_blocks: int = 1
    """L, the number of Manticore blocks; must divide every component's depth."""
    embeddings_from: int | None = None
    """Initialise the hybrid's embedding and LM head from component k."""
    vocab_size: int | None = None
    """The hybrid's vocabulary (default: the first component's)."""
    head: str = "auto"
    """'causal-lm', 'classification', or 'auto' (from the task's kind)."""
    projector_init: str = "trunc_pad"
    """'trunc_pad' or 'normal' (see ManticoreConfig)."""
    task: dict[str, Any] = field(default_factory=dict)
    """The downstream task: {name: ..., any tasks.get setting}."""
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig defaults for every stage."""
    search: dict[str, Any] = field(default_factory=dict)
    """SearchConfig defaults."""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-stage settings: train, search, task, seeds, method, ..."""
    run: list[str] = field(default_factory=list)
    """The stages `manticore run` chains, in order."""
    seed: int = 0
    """Seed of model initialisation and data order (stages' train.seed defaults to it)."""

    def __post_init__(self):
        self.components = [c if isinstance(c, ComponentSpec) else _component(c, i) for i, c in enumerate(self.components)]
        if self.head not in ("auto", "causal-lm", "classification"):
            raise ValueError(f"head={self.head!r} is not valid; accepted: auto, causal-lm, classification.")
        if not isinstance(self.num_blocks, int) or self.num_blocks < 1:
            raise ValueError(f"num_blocks={self.num_blocks!r} is not valid; accepted: a positive integer.")
        for name in self.run:
            if name not in STAGES:
                raise ValueError(f"run: unknown stage {name!r}; accepted: {', '.join(STAGES)}.")
        for name, section in self.stages.items():
            if name not in STAGES:
                raise ValueError(f"stages: unknown stage {name!r}; accepted: {', '.join(STAGES)}.")
            unknown = sorted(set(section) - STAGE_FIELDS)
            if unknown:
                raise ValueError(f"stages.{name}: unknown field(s) {unknown}; accepted: {', '.join(sorted(STAGE_FIELDS))}.")
        for name in STAGES:  # every stage's settings must build now, not halfway through a run
            self.train_config(name)
            self.search_config(name)
        if self.task and "name" not in self.task:
            raise ValueError("task needs a 'name' (see `manticore tasks`).")

    # -- per-stage settings -----------------------------------------------------------------------------------
    def stage(self, name: str) -> dict[str, Any]:
        return self.stages.get(name, {})

    def train_config(self, stage: str) -> TrainConfig:
        values = {"seed": self.seed, **self.train, **self.stage(stage).get("train", {})}
        return from_dict(TrainConfig, values, f"stages.{stage}.train (or train)")

    def search_config(self, stage: str) -> SearchConfig:
        return from_dict(SearchConfig, {**self.search, **self.stage(stage).get("search", {})},
                         f"stages.{stage}.search (or search)")

    def task_settings(self, stage: str) -> dict[str, Any]:
        settings = dict(self.stage(stage).get("task") or self.task)
        if "name" not in settings:
            raise ValueError(f"Stage {stage!r} needs a task: set 'task' (or stages.{stage}.task) with a 'name'.")
        return settings

    def stage_dir(self, stage: str) -> Path:
        return Path(self.out_dir) / stage


def _component(value: Any, index: int) -> ComponentSpec:
    if isinstance(value, str):
        return ComponentSpec(name=Path(value).name or f"component{index}", path=value)
    if not isinstance(value, dict):
        raise ValueError(f"components[{index}] must be a path/hub id or a mapping with 'path' or 'config'; got {value!r}.")
    unknown = sorted(set(value) - {f.name for f in fields(ComponentSpec)})
    if unknown:
        raise ValueError(f"components[{index}]: unknown field(s) {unknown}; accepted: name, path, config.")
    default = (value.get("config") or {}).get("model_type") or Path(str(value.get("path", ""))).name
    return ComponentSpec(name=value.get("name") or default or f"component{index}", path=value.get("path"),
                         config=value.get("config"))


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`key.sub=value` strings (YAML-parsed values) applied to a nested dict."""
    values = copy.deepcopy(values)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"Override {item!r} must look like key.subkey=value (e.g. train.max_steps=10).")
        key, raw = item.split("=", 1)
        target = values
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"Override {item!r}: {part!r} is not a section.")
        target[parts[-1]] = yaml.safe_load(raw)
    return values


def load_run_config(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config (or start from defaults), apply overrides, validate."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Config file {str(path)!r} does not exist.")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"Config file {str(path)!r} is not valid YAML: {err}") from None
        if not isinstance(values, dict):
            raise ValueError(f"Config file {str(path)!r} must hold a mapping of fields, got {type(values).__name__}.")
    values = apply_overrides(values, list(overrides))
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"Unknown field(s) {unknown} in {str(path) if path else 'the overrides'}; "
                         f"accepted: {', '.join(sorted(known))}.")
    try:
        return RunConfig(**values)
    except TypeError as err:
        raise ValueError(f"Bad config {str(path) if path else ''}: {err}") from None
