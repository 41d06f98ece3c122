"""A run, described by one YAML file: components, L, the task, and each stage's settings.

    out_dir: runs/demo
    components:                      # checkpoint dirs / hub ids, or configs to pretrain from scratch
      - {name: gpt_neo, config: {model_type: gpt_neo, hidden_size: 64, num_layers: 4, ...}}
      - {name: mamba, path: state-spaces/mamba-130m-hf}
    num_blocks: 2
    task: {name: mad/in-context-recall, preset: manticore-hard}
    train: {max_steps: 200, batch_size: 16}        # defaults of every stage's `train`
    search: {algorithm: darts}                     # defaults of every stage's `search`
    stages:                                        # per-stage settings (`manticore <stage> --help` lists them)
      pretrain-projectors: {task: {name: lm/shakespeare}, train: {lr: 1.0e-3}}
      search: {search: {algorithm: gaea}}
    run: [pretrain, pretrain-projectors, search, retrain, baselines, report]

`load_run_config(path, overrides)` validates all of it before any work: every top-level field, every stage
section (each stage's typed settings, `train.*` and `search.*` included, whether or not the stage is in
`run`), every type and every task name. A bad value raises a ValueError naming the field.
"""

from __future__ import annotations

import copy
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from . import stages as stage_registry
from ..train.config import TrainConfig
from ..train.search import SearchConfig
from ..settings import build, describe_type

CONFIGS = Path(__file__).resolve().parents[1] / "configs"  # the shipped run configs (demo, quickstart, ...)


@dataclass
class ComponentSpec:
    """One component: exactly one of `path` (checkpoint dir or hub id) or `config` (from scratch)."""

    name: str
    """Its name in the run directory and the report (default: its model_type or its path's last part)."""
    path: str | None = None
    """A local checkpoint directory or a hub id."""
    config: dict[str, Any] | None = None
    """A transformers config as a mapping with `model_type`: the `pretrain` stage trains it from scratch."""

    def __post_init__(self):
        if (self.path is None) == (self.config is None):
            raise ValueError(f"components[{self.name}]: give exactly one of 'path' or 'config'.")
        if self.config is not None and not isinstance(self.config.get("model_type"), str):
            raise ValueError(f"components[{self.name}].config needs a 'model_type' string (e.g. gpt_neo, mamba); "
                             f"got {self.config.get('model_type')!r:.40}.")
        if self.config is not None:
            self.check_config()

    def check_config(self) -> None:
        """The config's fields against its transformers config class: known model_type, and values of the types
        the class declares (transformers itself would take hidden_size: big and fail later)."""
        from transformers import AutoConfig

        from ..settings import matches

        values = dict(self.config)
        model_type = values.pop("model_type")
        try:
            cls = type(AutoConfig.for_model(model_type))
        except ValueError as err:
            raise ValueError(f"components[{self.name}].config: model_type {model_type!r}: {str(err)[:300]}") from None
        hints = {k: v for klass in reversed(cls.__mro__) for k, v in getattr(klass, "__annotations__", {}).items()}
        for key, value in values.items():
            hint = hints.get(key)
            if hint is not None and not isinstance(hint, str) and not matches(value, hint):
                raise ValueError(f"components[{self.name}].config.{key}={value!r} is not valid for {cls.__name__}; "
                                 f"accepted: {describe_type(hint)}.")
        self.build_config()

    def depth(self) -> int:
        """The number of blocks of a component given as a config."""
        from ..components.registry import adapter_class

        config = self.build_config()
        return adapter_class(config).depth_of(config)

    def build_config(self):
        """The component's transformers config (only for a component given as `config`)."""
        from transformers import AutoConfig

        values = dict(self.config)
        try:
            return AutoConfig.for_model(values.pop("model_type"), **values)
        except ValueError as err:
            raise ValueError(f"components[{self.name}].config: {err}") from None


@dataclass
class RunConfig:
    """Everything about one run. Stage sections override the shared `train` and `search` settings."""

    out_dir: str = "runs/run"
    """Where every stage writes its folder (out_dir/<stage>)."""
    components: list[Any] = field(default_factory=list)
    """The component models, in order (k = 0, 1, ...): paths / hub ids, or {name, path | config}."""
    num_blocks: int = 1
    """L, the number of Manticore blocks; must divide every component's depth."""
    embeddings_from: int | None = None
    """Initialise the hybrid's embedding and LM head from component k."""
    vocab_size: int | None = None
    """The hybrid's vocabulary (default: the first component's)."""
    head: Literal["auto", "causal-lm", "classification"] = "auto"
    """'causal-lm', 'classification', or 'auto' (from the task's kind)."""
    projector_init: Literal["trunc_pad", "normal"] = "trunc_pad"
    """'trunc_pad' or 'normal' (see ManticoreConfig)."""
    task: dict[str, Any] = field(default_factory=dict)
    """The downstream task: {name: ..., any setting of that task}."""
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig defaults of every stage."""
    search: dict[str, Any] = field(default_factory=dict)
    """SearchConfig defaults of every stage that searches."""
    stages: dict[str, Any] = field(default_factory=dict)
    """Per-stage settings, by stage name (`manticore <stage> --help` lists each stage's)."""
    run: list[str] = field(default_factory=list)
    """The stages `manticore run` chains, in order."""
    seed: int = 0
    """Seed of model initialisation and data order (every stage's train.seed defaults to it)."""

    def __post_init__(self):
        self.components = [c if isinstance(c, ComponentSpec) else _component(c, i) for i, c in enumerate(self.components)]
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"components: names must be unique (they name folders), got {names}; set `name`.")
        for name in self.run:
            if name not in stage_registry.STAGES:
                raise ValueError(f"run: unknown stage {name!r}; accepted: {', '.join(stage_registry.STAGES)}.")
        for name in self.stages:
            if name not in stage_registry.STAGES:
                raise ValueError(f"stages: unknown stage {name!r}; accepted: {', '.join(stage_registry.STAGES)}.")
        if not self.components and any(name not in ("report", "discretize", "eval") for name in self.run):
            raise ValueError(f"components: list at least one component model (a path / hub id, or {{name, config}}); "
                             f"the stages in run ({', '.join(self.run)}) build hybrids from them.")
        if self.num_blocks < 1:
            raise ValueError(f"num_blocks={self.num_blocks!r} is not valid; accepted: a positive integer.")
        depths = {c.name: c.depth() for c in self.components if c.config is not None}
        uneven = {name: depth for name, depth in depths.items() if depth % self.num_blocks}
        if uneven:
            raise ValueError(f"num_blocks={self.num_blocks} must divide every component's depth; {uneven} don't. "
                             f"Depths: {depths}.")
        if self.embeddings_from is not None and not 0 <= self.embeddings_from < len(self.components):
            raise ValueError(f"embeddings_from={self.embeddings_from} is not valid; accepted: a component index "
                             f"0..{len(self.components) - 1}, or null.")
        for section, cls in (("train", TrainConfig), ("search", SearchConfig)):  # named as the user wrote them
            values = getattr(self, section)
            if not isinstance(values, dict):
                raise ValueError(f"{section} must be a mapping of settings, got {values!r}.")
            build(cls, {"seed": self.seed, **values} if cls is TrainConfig else values, section)
        for name in stage_registry.names():  # every stage's settings must build now, not halfway through a run
            settings = self.stage_settings(name)
            check_task(getattr(settings, "task", None), f"stages.{name}.task")
        check_task(self.task or None, "task")

    # -- per-stage settings ---------------------------------------------------------------------------------------
    def stage_settings(self, name: str):
        """Stage `name`'s typed settings: its section, with every TrainConfig field defaulting to the run's
        `train` (and seed), and every SearchConfig field to the run's `search`."""
        stage = stage_registry.get(name)
        section = self.stages.get(name) or {}
        if not isinstance(section, dict):
            raise ValueError(f"stages.{name} must be a mapping of settings, got {section!r}.")
        values = dict(section)
        for key, hint in typing.get_type_hints(stage.settings).items():
            if hint is TrainConfig:
                inherited = _mapping(self.stages.get(stage.train_defaults) or {}, key, stage.train_defaults) \
                    if stage.train_defaults else {}
                values[key] = {"seed": self.seed, **self.train, **inherited, **_mapping(values, key, name)}
            elif hint is SearchConfig:
                values[key] = {**self.search, **_mapping(values, key, name)}
        return build(stage.settings, values, f"stages.{name}")

    def stage_dir(self, stage: str) -> Path:
        return Path(self.out_dir) / stage


def _mapping(values: dict[str, Any], key: str, stage: str) -> dict[str, Any]:
    value = values.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"stages.{stage}.{key} must be a mapping of settings, got {value!r}.")
    return value


def check_task(settings: dict[str, Any] | None, where: str) -> None:
    """A task section names a registered task and only settings that task accepts."""
    if settings is None:
        return
    if "name" not in settings:
        raise ValueError(f"{where} needs a 'name' (`manticore tasks` lists them).")
    if not isinstance(settings["name"], str):
        raise ValueError(f"{where}.name={settings['name']!r} is not valid; accepted: a task name (a string, e.g. "
                         "mad/in-context-recall; `manticore tasks` lists them).")
    from ..tasks.registry import check_settings

    try:
        check_settings(settings["name"], {k: v for k, v in settings.items() if k != "name"})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None


def _component(value: Any, index: int) -> ComponentSpec:
    if isinstance(value, str):
        return ComponentSpec(name=Path(value).name or f"component{index}", path=value)
    if not isinstance(value, dict):
        raise ValueError(f"components[{index}] must be a path/hub id or a mapping with 'path' or 'config'; got {value!r}.")
    default = (value.get("config") or {}).get("model_type") or Path(str(value.get("path", ""))).name
    return build(ComponentSpec, {"name": default or f"component{index}", **value}, f"components[{index}]")


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


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that gives the same key twice (the last one would win silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_out_dir(out_dir: str | Path) -> None:
    """out_dir must be a directory that can be created: not a file, under a writable directory. Nothing is
    created here (validation writes nothing)."""
    path = Path(out_dir).absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r} is a file; give a directory to write the run into.")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r} can't be created: {parent} is a file.")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"out_dir {str(out_dir)!r} can't be created: {parent} is not writable.")


def load_run_config(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config (or start from defaults), apply overrides, validate all of it."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Config file {str(path)!r} does not exist.")
        try:
            values = yaml.load(path.read_text(), Loader=UniqueKeyLoader) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"Config file {str(path)!r} is not valid YAML: {err}") from None
        if not isinstance(values, dict):
            raise ValueError(f"Config file {str(path)!r} must hold a mapping of fields, got {type(values).__name__}.")
    values = apply_overrides(values, list(overrides))
    config = build(RunConfig, values, "the run config")
    check_out_dir(config.out_dir)
    return config


def shipped_config(name: str, overrides: list[str] = ()) -> RunConfig:
    """A shipped run config by name (demo, quickstart, c2-mad, c2-lra, c2-striped, c3-programming, ...: the files in configs/)."""
    path = CONFIGS / f"{name}.yaml"
    if not path.exists():
        shipped = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
        raise ValueError(f"No shipped config {name!r}; shipped: {shipped}.")
    return load_run_config(path, overrides)
