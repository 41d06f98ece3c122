"""Stage `pareto`: the quality-cost front. A cost-aware search for each budget, its layout discretized and
fine-tuned over seeds, every point's cost measured.

For each budget b (relative to the cheapest component run alone, in `measure`), the search runs as the `search`
stage does (its settings, with `search.cost = {measure, budget: b, weight}`), from the same starting hybrid;
the layout it ends with (the most probable one under α that meets the budget) is cut from that starting hybrid
and fine-tuned with the `train` budget (retrain's by default) for every seed, so each point trains as the
`discretize` stage's rewound fine-tuning does. Budgets that end in the same layout share its trainings.
Each component alone and the full mixture are drawn beside, from the `baselines` results when the run has them
(same fine-tuning budget, same seeds); with `layouts: true`, so is every other discrete layout, fine-tuned alike.

Costs are measured on the trained models, not estimated: decode seconds per token end to end (`decode_times`,
batch 1, every point's model taking turns round after round so the machine's slow spells hit all alike), and
counted exactly: KV-cache bytes at 4K and 32K tokens, parameters,
FLOPs per decoded token.

Reads:    the hybrid of `pretrain-projectors` if this run has one (else a new hybrid), results.json (baselines,
          optional), retrain/model (the full mixture's cost, optional).
Writes:   pareto/budget-<b>/search/ (each search), pareto/layout-<k0-k1-...>/seed<s>/ (each fine-tuning),
          pareto/pareto.json (the points: see manticore.rundir), which the report draws.

    manticore pareto --config run.yaml --set stages.pareto.budgets=[1.0,1.1,1.5]
"""

from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import rundir
from ...checks import check
from ...train.search.cost import CostSettings, Measure
from .base import Stage, StageSettings, get_task, initial_hybrid, with_seed

if TYPE_CHECKING:
    from ...tasks.base import Task
    from ..run_config import RunConfig

CONTEXTS = (4096, 32768)  # where the KV-cache bytes of every point are counted


@dataclass
class ParetoSettings(StageSettings):
    budgets: list[float] = field(default_factory=lambda: [1.0, 1.1, 1.5])
    """Cost budgets, each relative to the cheapest component alone (in `measure`); one search per budget."""
    measure: Measure = "decode_latency"
    """What the budgets limit (search.cost.measure): measured 'decode_latency' by default."""
    weight: float = 0.0
    """An extra cost penalty λ in every search (search.cost.weight), beside the budget's multiplier."""
    context: int = 4096
    """The context length at which counted measures (FLOPs, KV bytes) are taken for the budget."""
    seeds: list[int] | None = None
    """Seeds of each layout's fine-tuning (default: the run's seed)."""
    decode_tokens: int = 32
    """Tokens decoded (batch 1, after a 64-token prompt) to measure each point's decode time, 3 runs."""
    layouts: bool = False
    """Also fine-tune every discrete layout that mixes components (K^L - K of them, at most 16), cut from the
    pre-search hybrid, and draw each: the whole front of a small search space, beside what the searches chose."""

    def __post_init__(self):
        check(bool(self.budgets) and all(b > 0 for b in self.budgets), "stages.pareto.budgets", self.budgets,
              "a non-empty list of numbers > 0")
        check(self.seeds is None or len(self.seeds) > 0, "stages.pareto.seeds", self.seeds,
              "a non-empty list of integers or null")
        CostSettings(self.measure, self.weight, 1.0, True, self.context)  # the same checks as search.cost


def counted_cost(model, context: int) -> dict[str, Any]:
    """A trained model's counted costs: KV bytes at 4K and 32K, parameters, FLOPs, and every counted measure."""
    from ...hybrid.cost import CostModel

    costs = CostModel.of(model)
    weights = model.mixture_weights().detach()
    return {**{f"kv_bytes@{c}": costs.cost(weights, "kv_bytes", c) for c in CONTEXTS},
            "params": costs.cost(weights, "params"), f"flops@{context}": costs.cost(weights, "flops", context),
            "_counted": {m: costs.cost(weights, m, context) for m in rundir.COST_MEASURES
                         if m not in rundir.LATENCY_MEASURES}}


def measure_decoding(points: list[dict[str, Any]], models: list[Any], decode_tokens: int) -> None:
    """Every point's decode time, measured with the models taking turns (decode_times), into its cost."""
    from ...hybrid.cost import decode_times

    seconds = decode_times(dict(enumerate(models)), tokens=decode_tokens)
    for i, point in enumerate(points):
        point["cost"].update(decode_s_per_token=seconds[i], decode_tokens_per_s=1.0 / seconds[i])


def relative_costs(points: list[dict[str, Any]], measure: str) -> None:
    """Each point's cost in `measure` relative to the cheapest component's, both as measured on the trained
    models (decode_latency: end-to-end seconds per token) or counted."""
    def own(point):
        cost = point["cost"]
        return cost["decode_s_per_token"] if measure == "decode_latency" else cost["_counted"].get(measure)

    components = [own(p) for p in points if p["kind"] == "component" and own(p) is not None]
    unit = min((c for c in components if c > 0), default=None)
    for point in points:
        value = own(point)
        point["cost"]["relative"] = None if value is None or unit is None else value / unit
        point["cost"].pop("_counted", None)


def summary(tests: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """{metric: {mean, std, n, values}} over seeds' test metrics."""
    out = {}
    for metric in tests[0]:
        values = [t[metric] for t in tests if isinstance(t.get(metric), (int, float))]
        if values:
            out[metric] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                           "n": len(values), "values": values}
    return out


def baseline_points(cfg: RunConfig, names: list[str]) -> dict[str, list[dict[str, float]]]:
    """Test metrics per seed of each component alone and of the hybrid, from results.json (if any)."""
    path = Path(cfg.out_dir) / rundir.RESULTS
    if not path.exists():
        return {}
    found: dict[str, list[dict[str, float]]] = {}
    for entry in rundir.read_json(path).get("entries", []):
        if entry.get("model") in (*names, rundir.HYBRID):
            found.setdefault(entry["model"], []).append(entry["test"])
    return found


def run(cfg: RunConfig, settings: ParetoSettings, resume: bool = False) -> dict:
    from ...hybrid.build import load_hybrid
    from ...hybrid.discretize import discretize
    from ...train.parallel import is_main
    from ...train.search.cost import cost_model, reference_cost
    from .discretize import rewound_start
    from .search import search

    task = get_task(cfg, settings.task)
    out, names = cfg.stage_dir("pareto"), [c.name for c in cfg.components]
    seeds, L = settings.seeds or [cfg.seed], cfg.num_blocks
    start = initial_hybrid(cfg, task)
    costs = cost_model(start, settings.measure, out)  # latency: profiled once, kept in pareto/cost.json
    unit = reference_cost(costs, settings.measure, settings.context)
    baselines = baseline_points(cfg, names)
    points, models = [], []
    for k, name in enumerate(names):  # each component alone: its layout cut from the starting hybrid
        alone, _ = discretize(start, choice=[k] * L)
        points.append({"kind": "component", "name": name, "budget": None, "layout": [k] * L, "alphas": None,
                       "cost": counted_cost(alone, settings.context),
                       "test": summary(baselines[name]) if name in baselines else None})
        models.append(alone)
    mixture = cfg.stage_dir("retrain") / rundir.MODEL
    if (mixture / "config.json").exists():
        hybrid = load_hybrid(mixture)
        points.append({"kind": "mixture", "name": rundir.HYBRID, "budget": None, "layout": None,
                       "alphas": hybrid.mixture_weights().detach().tolist(),
                       "cost": counted_cost(hybrid, settings.context),
                       "test": summary(baselines[rundir.HYBRID]) if rundir.HYBRID in baselines else None})
        models.append(hybrid)
    search_settings, trained = cfg.stage_settings("search"), {}
    for budget in settings.budgets:
        cost = CostSettings(settings.measure, settings.weight, budget, True, settings.context)
        where = out / f"budget-{budget:g}" / "search"
        if is_main() and (out / rundir.COST).exists():  # the same hybrid on the same machine: profiled already
            where.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / rundir.COST, where / rundir.COST)
        result = search(initial_hybrid(cfg, task), task, search_settings.train,
                        replace(search_settings.search, cost=cost), where, resume)
        layout = result["layout"]
        if tuple(layout) not in trained:
            begin = rewound_start(cfg, task, layout, where / rundir.INITIAL)
            trained[tuple(layout)] = train_layout(begin, layout, task, settings, seeds,
                                                  out / ("layout-" + "-".join(map(str, layout))), resume)
        model, tests = trained[tuple(layout)]
        points.append({"kind": "budget", "name": f"budget {budget:g}", "budget": budget, "layout": layout,
                       "alphas": result["alphas"], "searched_cost": result.get("cost"),
                       "cost": counted_cost(model, settings.context), "test": summary(tests)})
        models.append(model)
    if settings.layouts:
        for layout in mixed_layouts(K=len(names), L=L):
            if tuple(layout) not in trained:
                trained[tuple(layout)] = train_layout(start, layout, task, settings, seeds,
                                                      out / ("layout-" + "-".join(map(str, layout))), resume)
            model, tests = trained[tuple(layout)]
            points.append({"kind": "layout", "name": "+".join(names[k] for k in layout), "budget": None,
                           "layout": layout, "alphas": None, "cost": counted_cost(model, settings.context),
                           "test": summary(tests)})
            models.append(model)
    measure_decoding(points, models, settings.decode_tokens)
    relative_costs(points, settings.measure)
    front = {"kind": "pareto", "task": task.name, "metric": "loss", "measure": settings.measure,
             "context": settings.context, "unit": unit, "components": names, "seeds": seeds, "points": points}
    if is_main():
        rundir.write_json(out / rundir.PARETO, front)
    return {"task": task.name, "points": len(points), "layouts": [list(k) for k in trained]}


def mixed_layouts(K: int, L: int) -> list[list[int]]:
    """Every layout of L blocks over K components that uses more than one of them; at most 16."""
    import itertools

    layouts = [list(c) for c in itertools.product(range(K), repeat=L) if len(set(c)) > 1]
    if len(layouts) > 16:
        raise ValueError(f"stages.pareto.layouts=true would fine-tune {len(layouts)} layouts (K={K}, L={L}); "
                         "accepted: at most 16 (set it false, or use fewer blocks).")
    return layouts


def train_layout(initial, layout: list[int], task: Task, settings: ParetoSettings, seeds: list[int], out,
                 resume: bool) -> tuple[Any, list[dict[str, float]]]:
    """Fine-tune `layout` cut from `initial` (a hybrid or its directory) once per seed; returns (the first seed's
    model, every seed's test)."""
    from .discretize import fine_tune_layout

    model, tests = None, []
    for seed in seeds:
        trained, result = fine_tune_layout(initial, layout, task, with_seed(settings.train, seed), out / f"seed{seed}",
                                           resume, kind="pareto")
        model = model or trained
        tests.append(result["test"])
    return model, tests


STAGE = Stage("pareto", "the quality-cost front: a cost-aware search per budget, its layout fine-tuned over seeds",
              __doc__, ParetoSettings, run, train_defaults="retrain")
