"""results.json as data: each model's seeds, and the verdict of the hybrid against each component.

    comparison = read_comparison(run_dir / "results.json")
    comparison.values("hybrid", "loss")          # the hybrid's test loss, one value per seed
    for verdict in comparison.primary_verdicts(): verdict.winner, verdict.test.p

The report's comparison section and its "At a glance" both render these verdicts; neither recomputes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manticore.checks import is_number
from manticore.rundir import HYBRID, METRIC_NAMES, RESULTS, beats_chance, lower_is_better

from .stats import MIN_SEEDS, WelchTest, welch_test


def _is_number(value: Any) -> bool:
    return is_number(value)


@dataclass(frozen=True)
class Verdict:
    """The hybrid against one component on one metric: Welch's t-test of their values over seeds."""

    model: str  # the component
    metric: str
    hybrid: list[float]
    component: list[float]
    test: WelchTest | None  # None: fewer than MIN_SEEDS seeds on a side
    at_chance: tuple[str, ...] = ()  # the models of this pair that did not beat chance (the verdict is void)

    @property
    def difference(self) -> float:
        """mean(hybrid) − mean(component): negative favours the hybrid on loss and perplexity."""
        return float(np.mean(self.hybrid) - np.mean(self.component))

    @property
    def winner(self) -> str | None:
        """HYBRID or the component when the difference is significant, else None."""
        if self.at_chance or self.test is None or not self.test.significant or self.difference == 0:
            return None
        hybrid_wins = (self.difference < 0) == lower_is_better(self.metric)
        return HYBRID if hybrid_wins else self.model

    @property
    def outcome(self) -> str:
        if self.at_chance:
            return f"inconclusive: {' and '.join(self.at_chance)} did not beat chance"
        if self.test is None:
            return (f"n too small (hybrid n={len(self.hybrid)}, {self.model} n={len(self.component)}; "
                    f"needs ≥ {MIN_SEEDS} seeds each)")
        return f"significant: {self.winner} better" if self.winner else "not significant"


@dataclass
class Comparison:
    """What results.json holds: test metrics of each model over seeds, and the hybrid's verdicts."""

    task: str
    primary: str  # the metric results.json names as the one that decides
    metrics: list[str]  # the metrics some entry reports, in METRIC_NAMES order
    models: dict[str, list[dict[str, Any]]]  # the entries of each model, the hybrid's first
    verdicts: list[Verdict]  # the hybrid against each component, on each metric both sides report
    notes: list[str] = field(default_factory=list)  # what could not be used, for "Not in this report"
    unusable: str | None = None  # why there is no table at all (no file, no usable entries), else None
    chance: dict[str, float] = field(default_factory=dict)  # the task's chance level per metric (Task.chance)

    def values(self, model: str, metric: str) -> list[float]:
        return [float(e["test"][metric]) for e in self.models.get(model, []) if _is_number(e["test"].get(metric))]

    def learned(self, model: str) -> bool | None:
        """Whether `model`'s mean test metrics clearly beat chance (rundir.beats_chance); None: no chance level."""
        means = {m: float(np.mean(v)) for m in ("accuracy", "loss") if (v := self.values(model, m))}
        return beats_chance(means, self.chance)

    def primary_verdicts(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.metric == self.primary]


def _unusable(reason: str, notes: list[str]) -> Comparison:
    return Comparison(task="?", primary="loss", metrics=[], models={}, verdicts=[], notes=notes, unusable=reason)


def read_comparison(path: Path) -> Comparison:
    """The comparison in results.json at `path`; a missing or unusable file gives an empty one that says why."""
    if not path.exists():
        return _unusable(f"No `{RESULTS}` in this run directory.",
                         [f"no `{RESULTS}` at the run directory's root, so no comparison of the hybrid and its "
                          f"components"])
    notes: list[str] = []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        data = None
        notes.append(f"could not read `{path.name}`: {error}")
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return _unusable(f"`{RESULTS}` could not be used (see above).",
                         notes or [f"`{RESULTS}` has no list of `entries`"])
    models: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("model"), str) and isinstance(entry.get("test"), dict):
            models.setdefault(entry["model"], []).append(entry)
        else:
            notes.append(f"`{RESULTS}`: skipped an entry without `model` and `test`: {json.dumps(entry)[:120]}")
    if HYBRID in models:  # the hybrid's row first
        models = {HYBRID: models.pop(HYBRID), **models}
    metrics = [m for m in METRIC_NAMES if any(_is_number(e["test"].get(m)) for es in models.values() for e in es)]
    if not models or not metrics:
        return _unusable("No usable entries.",
                         notes + [f"`{RESULTS}` has no entries with test loss, accuracy or perplexity"])
    chance = data.get("chance") if isinstance(data.get("chance"), dict) else {}
    comparison = Comparison(str(data.get("task", "?")), data.get("metric", "loss"), metrics, models, [], notes,
                            chance={k: float(v) for k, v in chance.items() if _is_number(v)})
    if not comparison.chance:
        notes.append(f"`{RESULTS}` records no chance level, so no model could be checked against it")
    at_chance = {model for model in models if comparison.learned(model) is False}
    if HYBRID not in models:
        notes.append(f"`{RESULTS}` has no entry with model \"{HYBRID}\", so nothing to test the components against")
    elif len(models) == 1:
        notes.append(f"`{RESULTS}` has entries of the hybrid only, so no component to test it against")
    else:
        for model in [m for m in models if m != HYBRID]:
            for metric in metrics:
                hybrid, other = comparison.values(HYBRID, metric), comparison.values(model, metric)
                if hybrid and other:
                    void = tuple(m for m in (HYBRID, model) if m in at_chance)
                    comparison.verdicts.append(Verdict(model, metric, hybrid, other, welch_test(hybrid, other), void))
    return comparison
