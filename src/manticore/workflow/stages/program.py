"""Stage `program`: set α without searching on the task, freeze it, fine-tune (paper, Section 5, claim C3).

    metadata  components that can't take the task's sequence length get weight 0; the rest keep the
              starting hybrid's α, renormalised
    proxy     search a small random-init copy of the hybrid (same families and L, width `proxy_width`) on
              each proxy task (the MAD synthetics), and average the α found

Reads:    the hybrid of `pretrain-projectors` if this run has one, else a new hybrid.
Writes:   program/alphas.json (the programmed α; with proxy, also each proxy task's α, final test metrics
          and chance level, so that an α from a proxy that learned nothing shows), program/proxy/<task>/
          (each proxy search), program/finetune/seed<s>/ (the fine-tuned hybrid); results.json at the run's
          root gets the entries "programmed-<method>", beside the components and the searched hybrid.
Supports: any number of seeds; any registered search algorithm for the proxy searches; every family
          (the proxy copy is each adapter's `scaled_config`).

    manticore program --config run.yaml --set stages.program.method=proxy
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from collections.abc import Sequence

from ... import rundir
from ...checks import check
from ...train.config import TrainConfig
from ...train.search import SearchConfig
from .base import Stage, StageSettings, get_task, initial_hybrid, with_seed
from .retrain import retrain
from .search import search

if TYPE_CHECKING:
    from ...hybrid.model import ManticorePreTrainedModel
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class ProgramSettings(StageSettings):
    method: Literal["metadata", "proxy"] = "metadata"
    """'metadata' (from the task's sequence length) or 'proxy' (search small copies on proxy tasks)."""
    seeds: list[int] | None = None
    """Seeds of the fine-tuning runs (default: the run's seed)."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """proxy: how each proxy copy searches α (SearchConfig; the run's `search`, overridden here)."""
    proxy_tasks: list[str] | None = None
    """proxy: the tasks to search on (default: the five MAD tasks of the paper)."""
    proxy_preset: Literal["baseline", "manticore-hard"] = "baseline"
    """proxy: the MAD preset of the proxy tasks ('baseline' or 'manticore-hard')."""
    proxy_num_train: int = 256
    """proxy: training examples per proxy task."""
    proxy_num_test: int = 64
    """proxy: test examples per proxy task."""
    proxy_task_settings: dict[str, Any] = field(default_factory=dict)
    """proxy: settings given to every proxy task beside the preset and sizes, e.g. {seq_len: 64}."""
    proxy_width: int = 32
    """proxy: d_model of the scaled-down copies."""
    proxy_blocks_per_group: int = 1
    """proxy: blocks per block group of the copies (their depth is L times this)."""
    proxy_train: TrainConfig = field(default_factory=TrainConfig)
    """proxy: how each proxy search trains (TrainConfig; the run's `train`, overridden here)."""
    proxy_must_learn: bool = True
    """proxy: average only the α of proxies that beat their task's chance level (rundir.beats_chance); an
    error if none did. false: average every proxy's α."""

    def __post_init__(self):
        check(self.seeds is None or len(self.seeds) > 0, "seeds", self.seeds, "a non-empty list of integers or null")
        check(self.proxy_tasks is None or len(self.proxy_tasks) > 0, "proxy_tasks", self.proxy_tasks,
              "a non-empty list of task names or null")
        for name in ("proxy_num_train", "proxy_num_test", "proxy_width", "proxy_blocks_per_group"):
            check(getattr(self, name) > 0, name, getattr(self, name), "a positive integer")


def program_metadata(hybrid: ManticorePreTrainedModel, sequence_length: int) -> list[list[float]]:
    """α with weight 0 on components whose max positions are below the task's length, the rest renormalised."""
    import torch

    alphas = hybrid.mixture_weights().detach().clone()
    limits = [c.max_positions for c in hybrid.base_model.components]
    allowed = torch.tensor([limit is None or limit >= sequence_length for limit in limits], dtype=alphas.dtype)
    if not allowed.any():
        raise ValueError(f"No component can take sequences of length {sequence_length} (limits: {limits}).")
    alphas = alphas * allowed
    return (alphas / alphas.sum(-1, keepdim=True)).tolist()


def program_proxy(hybrid: ManticorePreTrainedModel, proxy_tasks: Sequence[Task], train: TrainConfig,
                  search_config: SearchConfig, out_dir: str | Path, width: int = ProgramSettings.proxy_width,
                  blocks_per_group: int = ProgramSettings.proxy_blocks_per_group,
                  must_learn: bool = ProgramSettings.proxy_must_learn, resume: bool = False) -> tuple[list[list[float]], dict]:
    """Search a small random-init copy of the hybrid on each proxy task; return (the α averaged over tasks,
    per task: {"alphas", "test" (the proxy's final test metrics), "chance" (the task's chance level),
    "averaged"}).

    The copy keeps the families and L, with width `width` and `blocks_per_group` blocks per group; each
    family scales its own config (`ComponentAdapter.scaled_config`). An α is only worth averaging if its proxy
    learned its task: with `must_learn`, proxies that did not beat chance are left out of the average.
    """
    import torch

    from ...components import scaled_config
    from ...hybrid.model import ManticoreForCausalLM

    L = hybrid.config.num_blocks
    per_task = {}
    for task in proxy_tasks:
        configs = [scaled_config(c, width, L * blocks_per_group, task.max_length or 0, task.vocab_size)
                   for c in hybrid.config.component_configs()]
        torch.manual_seed(train.seed)
        proxy = ManticoreForCausalLM.from_components(configs, num_blocks=L)
        result = search(proxy, task, train, search_config, Path(out_dir) / task.name.replace("/", "__"), resume)
        learned = rundir.beats_chance(result["test"], task.chance)
        per_task[task.name] = {"alphas": result["alphas"], "test": result["test"], "chance": task.chance,
                               "averaged": bool(learned or not must_learn)}
    averaged = [found["alphas"] for found in per_task.values() if found["averaged"]]
    if not averaged:
        raise ValueError(f"No proxy beat its task's chance level ({', '.join(per_task)}; see {out_dir}), so there "
                         f"is no α worth averaging: train the proxies longer (proxy_train.max_steps), on shorter "
                         f"tasks (proxy_task_settings), or set proxy_must_learn: false.")
    return torch.tensor(averaged).mean(0).tolist(), per_task


def programmed_alphas(cfg: RunConfig, settings: ProgramSettings, task: Task,
                      resume: bool = False) -> tuple[list[list[float]], dict]:
    """(α by the configured method, what else alphas.json records: the proxy searches per task)."""
    from ... import tasks
    from ...tasks.mad import MAD_TASKS

    if settings.method == "metadata":
        if task.max_length is None:
            raise ValueError(f"Task {task.name!r} does not report its sequence length (max_length), so metadata "
                             "programming has nothing to go on; use method: proxy.")
        return program_metadata(initial_hybrid(cfg, task), task.max_length), {"sequence_length": task.max_length}
    proxy_tasks = [tasks.get(name, **{"preset": settings.proxy_preset, "seed": cfg.seed,
                                      "num_train": settings.proxy_num_train, "num_test": settings.proxy_num_test,
                                      **settings.proxy_task_settings})
                   for name in settings.proxy_tasks or MAD_TASKS]
    alphas, per_task = program_proxy(initial_hybrid(cfg, task), proxy_tasks, settings.proxy_train, settings.search,
                                     cfg.stage_dir("program") / "proxy", settings.proxy_width,
                                     settings.proxy_blocks_per_group, settings.proxy_must_learn, resume)
    return alphas, {"per_task": per_task}


def run(cfg: RunConfig, settings: ProgramSettings, resume: bool = False) -> dict:
    """Program α, then fine-tune the hybrid with it frozen for every seed; the results join results.json."""
    from ...train.parallel import is_main

    task = get_task(cfg, settings.task)
    out = cfg.stage_dir("program")
    alphas, details = programmed_alphas(cfg, settings, task, resume)
    if is_main():
        rundir.write_json(out / rundir.ALPHAS, {"kind": "program", "method": settings.method, "alphas": alphas,
                                                **details})
    entries = []
    for seed in settings.seeds or [cfg.seed]:
        _, result = retrain(initial_hybrid(cfg, task), alphas, task, with_seed(settings.train, seed),
                            out / "finetune" / f"seed{seed}", resume, kind="program")
        entries.append({"model": rundir.programmed(settings.method), "seed": seed, "test": result["test"],
                        "alphas": alphas})
    if is_main():
        rundir.add_results(cfg.out_dir, task.name, entries, chance=task.chance)
    return {"method": settings.method, "alphas": alphas, "entries": entries}


STAGE = Stage("program", "program the mixture weights (metadata or proxy MAD search) and fine-tune", __doc__,
              ProgramSettings, run)
