"""Stage `baselines`: each component alone and the searched hybrid, fine-tuned with the same budget, over seeds.

A component alone is the one-hot hybrid with its own embedding and head (exactly component k, Appendix B.3),
so every model trains through the same code with the same budget: the comparison of claim C1.

Reads:    search/result.json (α) and search/initial/; the run's components.
Writes:   baselines/<component or hybrid>/seed<s>/{model/, result.json, metrics.jsonl}; results.json at the
          run's root gets one entry per model and seed (the report's comparison table and Welch tests).
Supports: any number of seeds; its `train` defaults to retrain's, so the hybrid gets the same budget there.

    manticore baselines --config run.yaml --set stages.baselines.seeds=[0,1,2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import rundir
from ..config import check
from .base import Stage, StageSettings, build_hybrid, get_task, searched_alphas, with_seed
from .retrain import retrain

if TYPE_CHECKING:
    from ..run_config import RunConfig


@dataclass
class BaselinesSettings(StageSettings):
    seeds: list[int] | None = None
    """Seeds of data order, dropout and new heads; each model trains once per seed (default: the run's seed)."""

    def __post_init__(self):
        check(self.seeds is None or len(self.seeds) > 0, "seeds", self.seeds, "a non-empty list of integers or null")


def run(cfg: RunConfig, settings: BaselinesSettings, resume: bool = False) -> dict:
    from ..engine import is_main

    task = get_task(cfg, settings.task)
    out, K, entries = cfg.stage_dir("baselines"), len(cfg.components), []
    for seed in settings.seeds or [cfg.seed]:
        train = with_seed(settings.train, seed)
        for k, spec in enumerate(cfg.components):
            one_hot = [[1.0 if j == k else 0.0 for j in range(K)]] * cfg.num_blocks
            _, result = retrain(build_hybrid(cfg, task, embeddings_from=k), one_hot, task, train,
                                out / spec.name / f"seed{seed}", kind="baselines")
            entries.append({"model": spec.name, "seed": seed, "test": result["test"]})
        _, result = retrain(cfg.stage_dir("search") / rundir.INITIAL, searched_alphas(cfg), task, train,
                            out / rundir.HYBRID / f"seed{seed}", kind="baselines")
        entries.append({"model": rundir.HYBRID, "seed": seed, "test": result["test"], "alphas": result["alphas"]})
    if is_main():
        rundir.add_results(cfg.out_dir, task.name, entries)
    return {"task": task.name, "metric": "loss", "entries": entries}


STAGE = Stage("baselines", "fine-tune each component alone and the hybrid with the same budget over seeds",
              __doc__, BaselinesSettings, run, train_defaults="retrain")
