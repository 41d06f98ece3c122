"""The cost-quality front (the `pareto` stage's pareto/pareto.json): each component alone, the full mixture and the
layout chosen under each cost budget, their test metric over seeds against measured decode speed and KV-cache
bytes, with the Pareto-optimal points joined; and whether a point about as fast as the cheapest component beats
every component."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manticore import rundir

from .. import plots
from ..markdown import Page, better, context_label, fmt, fmt_alphas, human_bytes, human_count, image, table
from ..run import Run, as_number
from ..stats import MIN_SEEDS

FOLDER = "pareto"  # the `pareto` stage's folder (its name in manticore.workflow.stages)
KINDS = ("component", "mixture", "budget", "layout")  # what a point is (rundir's schema)
KV_CONTEXTS = (4096, 32768)  # the contexts at which pareto.json counts each point's KV-cache bytes
SPEED_RATIO = 1.1  # "as fast as the cheapest component": measured decode s/token at most this many times its


@dataclass
class Point:
    """One point of pareto.json: its cost and its test metric over seeds (None where it has none)."""

    kind: str
    name: str
    layout: list | None
    alphas: list | None
    cost: dict[str, Any]
    mean: float | None
    std: float | None
    n: int | None

    def number(self, key: str) -> float | None:
        return as_number(self.cost.get(key))

    @property
    def seconds(self) -> float | None:
        """Measured decode seconds per token, end to end (batch 1)."""
        seconds = self.number("decode_s_per_token")
        if seconds is None and (rate := self.number("decode_tokens_per_s")):
            seconds = 1.0 / rate
        return seconds if seconds is not None and seconds > 0 else None

    @property
    def has_spread(self) -> bool:
        """Whether it has a sample std: over at least two seeds (pareto.json writes 0 for one seed)."""
        return self.std is not None and math.isfinite(self.std) and (self.n is None or self.n >= MIN_SEEDS)

    @property
    def tokens_per_s(self) -> float | None:
        rate = self.number("decode_tokens_per_s")
        return rate if rate is not None else (1.0 / self.seconds if self.seconds else None)


@dataclass
class Front:
    """pareto.json as the report uses it."""

    task: str | None
    metric: str
    measure: str | None
    context: int | None
    components: list[str]
    points: list[Point]


def read_front(path: Path, notes: list[str]) -> tuple[Front | None, str | None]:
    """(the front, None), or (None, why pareto.json can't be used); points it can't use are left out with a note."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return None, f"could not be read: {error}"
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        return None, "has no list of `points`"
    metric = data.get("metric") if isinstance(data.get("metric"), str) else "loss"
    components = [c for c in data.get("components") or [] if isinstance(c, str)]
    points = []
    for i, raw in enumerate(data["points"]):
        point = _point(raw, metric, components)
        if point is None:
            notes.append(f"point {i} of `{rundir.PARETO}` is not a point (a mapping with a `kind` in "
                         f"{', '.join(KINDS)}, a `cost` and a `name` or `budget`): left out")
        else:
            points.append(point)
    if not points:
        return None, "has no usable point"
    context = data.get("context")
    return Front(data.get("task") if isinstance(data.get("task"), str) else None, metric,
                 data.get("measure") if isinstance(data.get("measure"), str) else None,
                 context if isinstance(context, int) and not isinstance(context, bool) else None,
                 components, points), None


def _point(raw: Any, metric: str, components: list[str]) -> Point | None:
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS or not isinstance(raw.get("cost"), dict):
        return None
    name = raw.get("name")
    if not isinstance(name, str):
        budget = as_number(raw.get("budget"))
        if raw["kind"] != "budget" or budget is None:
            return None
        name = f"budget {budget:g}"
    test = raw.get("test") if isinstance(raw.get("test"), dict) else {}
    summary = test.get(metric) if isinstance(test.get(metric), dict) else {}
    mean, std, n = as_number(summary.get("mean")), as_number(summary.get("std")), as_number(summary.get("n"))
    mean = mean if mean is not None and math.isfinite(mean) else None
    n = int(n) if n is not None and math.isfinite(n) and n >= 0 else None
    layout = raw.get("layout") if isinstance(raw.get("layout"), list) else None
    if layout is not None:  # component indices -> names
        layout = [components[k] if isinstance(k, int) and 0 <= k < len(components) else k for k in layout]
    return Point(raw["kind"], name, layout, raw.get("alphas") if isinstance(raw.get("alphas"), list) else None,
                 raw["cost"], mean, std, n)


# -- the front and the claim --------------------------------------------------------------------------------------
def pareto_optimal(x: np.ndarray, y: np.ndarray, x_higher_better: bool, y_lower_better: bool) -> list[int]:
    """Indices of the points no other point dominates (at least as good on both, better on one), in x order;
    points with a nan are left out. x, y: (n,)."""
    sx, sy = (1 if x_higher_better else -1) * x, (-1 if y_lower_better else 1) * y  # larger is better on both
    kept = [i for i in range(len(x)) if np.isfinite(x[i]) and np.isfinite(y[i])]
    front = [i for i in kept if not any(sx[j] >= sx[i] and sy[j] >= sy[i] and (sx[j] > sx[i] or sy[j] > sy[i])
                                        for j in kept)]
    return sorted(front, key=lambda i: x[i])


def _is_better(a: float, b: float, metric: str) -> bool:
    return a < b if rundir.LOWER_IS_BETTER.get(metric, True) else a > b


def _summary(point: Point, n: str = "n = ") -> str:
    """"2.4100 ± 0.0100 (n = 3)" (with n="": "2.4100 ± 0.0100 (3)"); "—" without a mean."""
    if point.mean is None:
        return "—"
    spread = f" ± {fmt(point.std)}" if point.has_spread else ""
    return f"{fmt(point.mean)}{spread}" + (f" ({n}{point.n})" if point.n is not None else "")


def speed_claim(front: Front) -> str:
    """Whether some point (not a component) whose measured decode s/token is at most SPEED_RATIO x the cheapest
    component's beats every component's mean test metric, and by how much; from the data, means and stds only."""
    metric = front.metric
    components = [p for p in front.points if p.kind == "component"]
    timed = [p for p in components if p.seconds is not None]
    scored = [p for p in components if p.mean is not None]
    if not timed or not scored:
        lacking = [what for what, found in (("a measured decode time", timed), (f"a test {metric}", scored)) if not found]
        return f"No comparison with the components: none has {' or '.join(lacking)}."
    cheapest = min(timed, key=lambda p: p.seconds)
    best = scored[0]
    for p in scored[1:]:
        if _is_better(p.mean, best.mean, metric):
            best = p
    cheaper = "cheaper" if len(components) == 2 else "cheapest"
    fast = [p for p in front.points if p.kind != "component" and p.seconds is not None and p.mean is not None
            and p.seconds <= SPEED_RATIO * cheapest.seconds]
    where = (f"{SPEED_RATIO:g}× the {cheaper} component's measured decode time ({cheapest.name}: "
             f"{cheapest.seconds * 1e3:.3f} ms/token)")
    unscored = [p.name for p in components if p.mean is None]
    caveat = (f" ({', '.join(unscored)} {'has' if len(unscored) == 1 else 'have'} no test {metric} and "
              f"{'is' if len(unscored) == 1 else 'are'} not compared.)") if unscored else ""
    honest = " Means and standard deviations over seeds only; no significance test."
    if not fast:
        return f"No such point: none besides the components decodes within {where}.{caveat}"
    top = fast[0]
    for p in fast[1:]:
        if _is_better(p.mean, top.mean, metric):
            top = p
    if not _is_better(top.mean, best.mean, metric):
        return (f"No such point: of the points within {where}, the best, **{top.name}** "
                f"({top.seconds * 1e3:.3f} ms/token), has mean test {metric} {_summary(top)}, not better than the "
                f"best component's ({best.name}: {_summary(best)}).{caveat}{honest}")
    margin = abs(best.mean - top.mean)
    relative = f" ({margin / abs(best.mean):.1%})" if best.mean else ""
    return (f"Yes: **{top.name}** decodes in {top.seconds * 1e3:.3f} ms/token, {top.seconds / cheapest.seconds:.2f}× "
            f"the {cheaper} component's time ({cheapest.name}: {cheapest.seconds * 1e3:.3f} ms/token; the limit is "
            f"{SPEED_RATIO:g}×), and its mean test {metric}, {_summary(top)}, beats every component's: it is "
            f"{fmt(margin)}{relative} better than the best component's ({best.name}: {_summary(best)}).{caveat}{honest}")


# -- the section --------------------------------------------------------------------------------------------------
def _layout_cell(point: Point) -> str:
    if point.layout is not None:
        return ", ".join(map(str, point.layout))
    return fmt_alphas(point.alphas) if point.alphas is not None else "—"


def _plot(front: Front, page: Page) -> Path:
    points = front.points
    mean = np.array([np.nan if p.mean is None else p.mean for p in points])
    std = np.array([p.std if p.has_spread else np.nan for p in points])
    lower = rundir.LOWER_IS_BETTER.get(front.metric, True)

    def axis(label: str, values: list[float | None], higher: bool, in_bytes: bool) -> plots.CostAxis:
        x = np.array([np.nan if v is None else v for v in values], dtype=float)
        return plots.CostAxis(label, x, higher, pareto_optimal(x, mean, higher, lower), in_bytes)

    axes = [axis("decode tokens/s (measured, batch 1)", [p.tokens_per_s for p in points], True, False)]
    axes += [axis(f"KV-cache bytes at {context_label(c)} context", [p.number(f"kv_bytes@{c}") for p in points],
                  False, True) for c in KV_CONTEXTS]
    title = f"Test {front.metric} against cost" + (f" on {front.task}" if front.task else "")
    return plots.plot_pareto(page.png("pareto", FOLDER), title, [p.name for p in points], [p.kind for p in points],
                             mean, std, axes, f"test {front.metric} ({better(front.metric)})")


def section(run: Run, page: Page) -> list[str]:
    path = run.path / FOLDER / rundir.PARETO
    if not path.exists():
        page.missing.append(f"no `{FOLDER}/{rundir.PARETO}` (the `pareto` stage), so no cost-quality front")
        return []
    lines = ["## Cost against quality (Pareto front)", ""]
    notes: list[str] = []
    front, unusable = read_front(path, notes)
    if front is None:
        page.missing.append(f"`{FOLDER}/{rundir.PARETO}` {unusable}, so no cost-quality front")
        return lines + [f"`{FOLDER}/{rundir.PARETO}` {unusable}: nothing to draw.", ""]
    metric = front.metric
    budget = (f" A budget point is the layout a cost-aware search chose with its `{front.measure}`"
              + (f" (at context {front.context})" if front.context and front.measure != "decode_latency" else "")
              + " at most the budget times the cheapest component's.") if front.measure else ""
    lines += [("Task: `" + front.task + "`. " if front.task else "")
              + f"Each point's test {metric} ({better(metric)}) is its mean over seeds, the error bar the sample "
              "standard deviation; decode speed is measured end to end (batch 1, greedy, on the machine that ran the "
              "stage), KV-cache bytes are counted per sequence at each context." + budget
              + " The dashed line joins the Pareto-optimal points of each panel (no other point is both cheaper and "
              "better).", ""]
    drawn = [p for p in front.points if p.mean is not None]
    if drawn:
        lines += [image(_plot(Front(front.task, metric, front.measure, front.context, front.components, drawn), page),
                        "test metric against decode speed and KV-cache bytes"), ""]
    notes += [f"`{p.name}` has no test {metric}: in the table, not drawn" for p in front.points if p.mean is None]
    header = ["name", "layout / α", "decode tokens/s", *(f"KV @ {context_label(c)}" for c in KV_CONTEXTS), "params",
              f"test {metric} mean ± std (n)"]
    rows = [[p.name, _layout_cell(p), "—" if p.tokens_per_s is None else f"{p.tokens_per_s:,.0f}",
             *(human_bytes(p.number(f"kv_bytes@{c}")) for c in KV_CONTEXTS), human_count(p.number("params")),
             _summary(p, n="")]
            for p in front.points]
    lines += table(header, rows) + ["", speed_claim(front), ""]
    return lines + [f"- {note}" for note in notes] + ([""] if notes else [])
