"""Stage `baselines`: each component alone, fixed layouts and the searched hybrid, with the same budget, over seeds.

A component alone is the one-hot hybrid with its own embedding and head (exactly component k, Appendix B.3),
so every model trains through the same code with the same budget: the comparison of claims C1 and C2.
A layout is a fixed one-hot α pattern, one component per Manticore block: existing hybrids such as
MambaFormer-style stripes (attention in one block, Mamba in the next) are points of our search space
(the paper's Table 3), trained here beside the searched hybrid.

Each seed sets data order, dropout and every new weight (a component given as a config starts from a new
random init per seed). With `search: true` every seed also repeats the search (from the same starting
hybrid, as the `search` stage starts) before retraining, so the spread over seeds covers the search too;
with `retrain: false` the searched model itself is the hybrid's result (from scratch, the paper found
retraining unnecessary), and layouts then train from the same starting hybrid with the search's budget.

Reads:    search/result.json (α) and search/initial/, unless `search: true`; the run's components.
Writes:   baselines/<component | layout | hybrid>/seed<s>/{model/, result.json, metrics.jsonl}, with
          baselines/hybrid/seed<s>/search/ when searching per seed; results.json at the run's root gets one
          entry per model and seed (the report's comparison table and Welch tests).
Supports: any number of seeds; its `train` defaults to retrain's, so the hybrid gets the same budget there.

    manticore baselines --config run.yaml --set stages.baselines.seeds=[0,1,2] --set stages.baselines.search=true
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ... import rundir
from ...checks import check
from .base import Stage, StageSettings, build_hybrid, get_task, initial_hybrid, searched_alphas, with_seed
from .retrain import retrain

if TYPE_CHECKING:
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class BaselinesSettings(StageSettings):
    seeds: list[int] | None = None
    """Seeds of data order, dropout and new weights; each model trains once per seed (default: the run's seed)."""
    search: bool = False
    """Repeat the search for every seed (the `search` stage's settings, seeded) before retraining; false:
    every seed retrains the α of the run's one search."""
    retrain: bool = True
    """Retrain the searched hybrid (rewind, freeze α, fine-tune with `train`); false (needs `search: true`):
    the searched model is the hybrid's result."""
    layouts: dict[str, list[str]] | Literal["all"] = field(default_factory=dict)
    """Fixed hybrids trained beside: name -> one component name per Manticore block, e.g.
    {striped: [gpt_neo, mamba]}; each is the one-hot α of those components, trained with the hybrid's budget.
    'all': every discrete layout of the search space that is not a component alone (K^L - K of them, named
    like gpt_neo+mamba), so the searched hybrid's regret against the best of them can be measured."""

    def __post_init__(self):
        check(isinstance(self.layouts, dict) or self.layouts == "all", "layouts", self.layouts,
              "a mapping of name -> one component per block, or 'all'")
        check(self.seeds is None or len(self.seeds) > 0, "seeds", self.seeds, "a non-empty list of integers or null")
        check(self.retrain or self.search, "retrain", self.retrain,
              "true, or false together with search: true (the searched model is then the result)")


def layout_alphas(layout: list[str], components: list[str], num_blocks: int, where: str) -> list[list[float]]:
    """One-hot α (L, K) of a layout given as one component name per block."""
    if len(layout) != num_blocks:
        raise ValueError(f"{where}={layout!r} names {len(layout)} components; accepted: one per Manticore block "
                         f"({num_blocks}), each one of {components}.")
    unknown = [name for name in layout if name not in components]
    if unknown:
        raise ValueError(f"{where}: unknown component(s) {unknown}; accepted: {components}.")
    return [[1.0 if name == component else 0.0 for component in components] for name in layout]


def every_layout(names: list[str], num_blocks: int) -> dict[str, list[str]]:
    """Every layout of `num_blocks` blocks over the components `names` but the components alone, named by its
    components in block order (gpt_neo+mamba); at most 64 (K^L grows fast)."""
    layouts = {"+".join(choice): list(choice) for choice in itertools.product(names, repeat=num_blocks)
               if len(set(choice)) > 1}
    if len(layouts) > 64:
        raise ValueError(f"stages.baselines.layouts='all' would train {len(layouts)} layouts (K={len(names)}, "
                         f"L={num_blocks}); accepted: at most 64, or name the layouts to train.")
    return layouts


def search_trainings(cfg: RunConfig, settings: BaselinesSettings) -> float:
    """What the hybrid costs in trainings of one baseline's budget: its search's steps (plus retraining's)."""
    one = settings.train.max_steps if settings.retrain else cfg.stage_settings("search").train.max_steps
    steps = cfg.stage_settings("search").train.max_steps + (settings.train.max_steps if settings.retrain else 0)
    return steps / one


def hybrid_for_seed(cfg: RunConfig, settings: BaselinesSettings, task: Task, seed: int, resume: bool = False) -> tuple:
    """(the hybrid before search, its α, and the searched result or None) for one seed."""
    from .search import search

    if not settings.search:
        return cfg.stage_dir("search") / rundir.INITIAL, searched_alphas(cfg), None
    out = cfg.stage_dir("baselines") / rundir.HYBRID / f"seed{seed}" / "search"
    search_settings = cfg.stage_settings("search")
    result = search(initial_hybrid(cfg, task, seed=seed), task, with_seed(search_settings.train, seed),
                    search_settings.search, out, resume)
    return out / rundir.INITIAL, result["alphas"], result


def run(cfg: RunConfig, settings: BaselinesSettings, resume: bool = False) -> dict:
    from ...train.parallel import is_main

    task = get_task(cfg, settings.task)
    out, names, entries = cfg.stage_dir("baselines"), [c.name for c in cfg.components], []
    named = every_layout(names, cfg.num_blocks) if settings.layouts == "all" else settings.layouts
    layouts = {name: layout_alphas(layout, names, cfg.num_blocks, f"stages.baselines.layouts.{name}")
               for name, layout in named.items()}
    seeds = settings.seeds or [cfg.seed]
    total = len(seeds) * (len(names) + len(layouts) + (1 if settings.retrain else 0))
    count = iter(range(1, total + 1))

    def label(name: str, seed: int) -> str:
        return f"{name} seed {seed} ({next(count)}/{total})"

    for seed in seeds:
        train = with_seed(settings.train, seed)
        if not settings.retrain:  # layouts and components get the search's budget
            train = with_seed(cfg.stage_settings("search").train, seed)
        for k, name in enumerate(names):
            one_hot = [[1.0 if j == k else 0.0 for j in range(len(names))]] * cfg.num_blocks
            _, result = retrain(build_hybrid(cfg, task, embeddings_from=k, seed=seed), one_hot, task, train,
                                out / name / f"seed{seed}", resume, kind="baselines", label=label(name, seed))
            entries.append({"model": name, "seed": seed, "test": result["test"]})
        initial, alphas, searched = hybrid_for_seed(cfg, settings, task, seed, resume)
        for name, layout in layouts.items():
            _, result = retrain(initial, layout, task, train, out / name / f"seed{seed}", resume, kind="baselines",
                                label=label(name, seed))
            entries.append({"model": name, "seed": seed, "test": result["test"], "alphas": layout})
        if settings.retrain:
            _, searched = retrain(initial, alphas, task, train, out / rundir.HYBRID / f"seed{seed}", resume,
                                  kind="baselines", label=label(rundir.HYBRID, seed))
        entries.append({"model": rundir.HYBRID, "seed": seed, "test": searched["test"], "alphas": searched["alphas"]})
    if is_main():
        rundir.add_results(cfg.out_dir, task.name, entries, chance=task.chance,
                           search_trainings=search_trainings(cfg, settings))
    return {"task": task.name, "metric": "loss", "entries": entries}


STAGE = Stage("baselines", "fine-tune each component alone, fixed layouts and the hybrid with the same budget",
              __doc__, BaselinesSettings, run, train_defaults="retrain")
