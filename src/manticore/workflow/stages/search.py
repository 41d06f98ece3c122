"""Stage `search`: the mixture weights α train with the model (DARTS-style, paper Appendix B.5).

Reads:    the hybrid of `pretrain-projectors` if this run has one, else a new hybrid of the components.
Writes:   search/initial/ (the hybrid before search, which `retrain` rewinds to), search/{model/, result.json
          (its "alphas" are the searched α), metrics.jsonl (α every step), checkpoint.pt}.
Supports: every registered search algorithm (`search.algorithm`: darts, gaea, gumbel, single-path, or your own,
          each with its `search.hyperparameters`); simultaneous or alternating updates; bilevel (architecture
          steps on the task's validation split); committing to a layout chosen by α or by validation loss
          (`search.commit_at`, `search.select`); --resume; DDP under torchrun.

    manticore search --config run.yaml --set stages.search.search.algorithm=gaea
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ... import rundir
from ...train.config import TrainConfig
from ...train.search import SearchConfig
from .base import Stage, StageSettings, check_vocab, finish, get_task, initial_hybrid

if TYPE_CHECKING:
    from ...hybrid.model import ManticorePreTrainedModel
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class SearchSettings(StageSettings):
    search: SearchConfig = field(default_factory=SearchConfig)
    """How α is searched (SearchConfig): the run's `search` section, overridden field by field here."""


def search(hybrid: ManticorePreTrainedModel, task: Task, train: TrainConfig, search: SearchConfig,
           out_dir: str | Path, resume: bool = False) -> dict:
    """Train α with the model; saves the pre-search weights to out_dir/initial for `retrain` to rewind to."""
    from ...train.engine import Engine
    from ...train.parallel import is_main

    check_vocab(hybrid, task)
    out_dir = Path(out_dir)
    if is_main() and not (resume and (out_dir / rundir.INITIAL / "config.json").exists()):
        hybrid.save_pretrained(out_dir / rundir.INITIAL)  # resuming keeps the weights the search started from
    hybrid.unfreeze_mixture_weights()
    engine = Engine(hybrid, task, train, out_dir, search=search)
    metrics = engine.train(resume)
    if search.commit_at is not None and engine.arch:  # commit_at 1: the layout after the last step
        engine.algorithm.commit(engine)
        metrics = engine.evaluate("test")
    return finish("search", hybrid, task, engine, metrics, out_dir, **searched_cost(hybrid, search, out_dir))


def searched_cost(hybrid: ManticorePreTrainedModel, search: SearchConfig, out_dir: Path) -> dict:
    """With `search.cost`: result.json's `cost` (the measure, its unit, E_α[cost] relative to it, the budget)
    and `layout`, the most probable layout under the searched α that meets the budget (the argmax without one),
    which `discretize` and `pareto` take. A decode-latency budget is checked on the discretized layouts
    themselves, measured end to end against the components alone (`measured_layout`)."""
    if search.cost is None:
        return {}
    from ...train.search.cost import cost_model, reference_cost

    settings = search.cost
    costs = cost_model(hybrid, settings.measure, out_dir)
    unit = reference_cost(costs, settings.measure, settings.context) if settings.relative else 1.0
    alphas = hybrid.mixture_weights().detach()
    budget = None if settings.budget is None else settings.budget * unit
    layout = costs.best_layout(alphas, settings.measure, budget, settings.context)
    cost = {"measure": settings.measure, "context": settings.context, "unit": unit, "budget": settings.budget,
            "expected": float(costs.expected(alphas, settings.measure, settings.context)) / unit,
            "layout": costs.cost(layout, settings.measure, settings.context) / unit}
    if settings.measure == "decode_latency" and settings.budget is not None and settings.relative:
        layout, cost["measured"] = measured_layout(hybrid, costs, alphas, settings.budget)
        cost["layout"] = costs.cost(layout, settings.measure, settings.context) / unit
    return {"layout": layout, "cost": cost}


def measured_layout(hybrid, costs, alphas, budget: float, tries: int = 4) -> tuple[list[int], float]:
    """The most probable layout whose measured decode time (end to end, the discretized model, taking turns with
    the components alone) is at most `budget` x the fastest component's; tries the `tries` most probable layouts
    whose estimate is within twice the budget, then falls back to the fastest component. Returns (layout, its
    measured time relative to the fastest component)."""
    import math

    from ...hybrid.cost import decode_times

    L, K = costs.shape
    weights = costs.weights_of(alphas)

    def score(choice):
        return sum(math.log(row[k]) if row[k] > 0 else -math.inf for row, k in zip(weights, choice))

    unit = min(costs.cost([k] * L, "decode_latency") for k in range(K))
    ranked = sorted((c for c in costs.layouts() if costs.cost(c, "decode_latency") <= 2 * budget * unit),
                    key=score, reverse=True)[:tries]
    alone = [[k] * L for k in range(K)]
    models = {tuple(c): hybrid.discretize(choice=c) for c in [*alone, *ranked]}
    seconds = decode_times(models)
    fastest = min(seconds[tuple(c)] for c in alone)
    for choice in ranked:
        if seconds[tuple(choice)] <= budget * fastest:
            return choice, seconds[tuple(choice)] / fastest
    best = min(alone, key=lambda c: seconds[tuple(c)])
    return best, seconds[tuple(best)] / fastest


def run(cfg: RunConfig, settings: SearchSettings, resume: bool = False) -> dict:
    task = get_task(cfg, settings.task)
    return search(initial_hybrid(cfg, task), task, settings.train, settings.search, cfg.stage_dir("search"), resume)


STAGE = Stage("search", "search the mixture weights with the model (DARTS, GAEA, Gumbel-softmax or single-path)", __doc__,
              SearchSettings, run)
