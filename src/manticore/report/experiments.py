"""EXPERIMENTS.md: every experiment's tables, written from its run directories (never typed by hand).

For each experiment of configs/experiments.yaml: the claim, what was scaled down, the command and the wall
time each variant took (experiment-<name>.json), then one table over its variants: each model's test metrics
(mean ± std over seeds), its α, whether it beat the chance level, and Welch's p of the hybrid against each
other model; proxy searches (program/alphas.json) list each proxy's accuracy beside its α; a sweep's
landscape is linked from the run's own report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from manticore.rundir import (lower_is_better, record_path, ACCURACY_MARGIN, ALPHAS, HYBRID, LOSS_MARGIN, REPORT, RESULTS, SWEEP,
                                    beats_chance)

from .markdown import fmt, fmt_p, table
from .results import Comparison, read_comparison
from .sections.comparison import mean_std_cell


if TYPE_CHECKING:
    from manticore.workflow.experiments import Experiment

SHOWN = ("loss", "accuracy", "macro_accuracy")  # the metrics of the tables, when the runs report them


def _alphas(entries: list[dict]) -> str:
    """α_0 per block (K=2) or every α, averaged over the entries that record one."""
    alphas = [e["alphas"] for e in entries if isinstance(e.get("alphas"), list)]
    if not alphas:
        return "—"
    mean = np.asarray(alphas, dtype=float).mean(0)  # (L, K)
    if mean.shape[-1] == 2:
        return "(" + ", ".join(f"{a:.2f}" for a in mean[:, 0]) + ")"
    return "; ".join("[" + ", ".join(f"{a:.2f}" for a in block) + "]" for block in mean)


def _p_values(comparison: Comparison, model: str, metrics: list[str]) -> str:
    """The hybrid's Welch p against each other model on each of `metrics` (the verdict when it is void)."""
    if model != HYBRID:
        return ""
    cells: dict[str, list[str]] = {}
    for verdict in comparison.verdicts:
        if verdict.metric not in metrics:
            continue
        if verdict.at_chance:
            text = "inconclusive"
        elif verdict.test is None:
            text = "n too small"
        else:
            text = f"p = {fmt_p(verdict.test.p)}" + (f", {verdict.winner} better" if verdict.winner else "")
        cells.setdefault(verdict.model, []).append(f"{verdict.metric} {text}")
    return "; ".join(f"{other}: " + ", ".join(texts) for other, texts in cells.items()) or "—"


def _table(rows_of: list[tuple[str, Path, Comparison]]) -> list[str]:
    shown = [m for m in SHOWN if any(m in c.metrics for _, _, c in rows_of)]
    tested = [m for m in ("loss", "accuracy") if m in shown]
    header = ["variant", "model", "n", *(f"test {m}" for m in shown), "α_0 per block", "beats chance",
              "hybrid vs others (Welch p)"]
    rows = []
    for variant, _, comparison in rows_of:
        if comparison.unusable:
            rows.append([variant or "—", "(no results)", "—", *("—" for _ in shown), "—", "—", comparison.unusable])
            continue
        for model, entries in comparison.models.items():
            learned = {True: "yes", False: "**no**", None: "—"}[comparison.learned(model)]
            rows.append([variant or "—", f"**{model}**" if model == HYBRID else model, str(len(entries)),
                         *(mean_std_cell(comparison.values(model, m)) for m in shown), _alphas(entries), learned,
                         _p_values(comparison, model, tested)])
        if comparison.chance:
            rows.append([variant or "—", "*chance*", "—", *(fmt(comparison.chance.get(m)) for m in shown), "—", "—",
                         "—"])
    return table(header, rows)


def _is_layout(entries: list[dict]) -> bool:
    """A component alone (no α) or a fixed layout (one-hot α in every block)."""
    alphas = [e.get("alphas") for e in entries]
    return all(a is None or (isinstance(a, list) and all(sorted(row)[-1] == 1.0 for row in a)) for a in alphas)


def _regret(rows_of: list[tuple[str, Path, Comparison]]) -> list[str]:
    """Per variant and metric (accuracy, then loss): the best discrete layout (components alone included) against
    the searched hybrid, the difference (positive: the layout is better), Welch's p, and the search's cost in
    trainings; void unless both beat chance."""
    rows = []
    for variant, run_dir, comparison in rows_of:
        if comparison.unusable or HYBRID not in comparison.models:
            continue
        for metric in [m for m in ("accuracy", "loss") if m in comparison.metrics]:
            row = _regret_row(variant, run_dir, comparison, metric)
            if row is not None:
                rows.append(row)
    if not rows:
        return []
    return ["Search regret: the best of every discrete layout trained (components alone included) against the "
            "searched hybrid; regret = best layout − hybrid on each metric (positive: the layout is "
            "better), counted only where both beat chance; search cost in trainings of one layout's budget.", "",
            *table(["variant", "metric", "best layout", "hybrid", "regret", "Welch p", "verdict",
                    "search cost (trainings)", "layouts"], rows), ""]


def _regret_row(variant: str, run_dir: Path, comparison: Comparison, metric: str) -> list[str] | None:
    layouts = [m for m, es in comparison.models.items() if m != HYBRID and _is_layout(es)
               and comparison.values(m, metric)]
    if len(layouts) < 2:
        return None
    sign = -1.0 if lower_is_better(metric) else 1.0
    mean = {m: float(np.mean(comparison.values(m, metric))) for m in [HYBRID, *layouts]}
    best = max(layouts, key=lambda m: sign * mean[m])
    verdict = next((v for v in comparison.verdicts if v.model == best and v.metric == metric), None)
    regret = sign * (mean[best] - mean[HYBRID])
    learned = comparison.learned(best) is not False and comparison.learned(HYBRID) is not False
    p = "—" if verdict is None or verdict.test is None else fmt_p(verdict.test.p)
    significant = verdict is not None and verdict.test is not None and verdict.test.p < 0.05
    verdict_text = ("inconclusive (at chance)" if not learned else
                    "layout better" if significant and regret > 0 else
                    "hybrid better" if significant else "no significant difference")
    trainings = _search_trainings(run_dir)
    return [variant or "—", metric, f"{best}: {mean_std_cell(comparison.values(best, metric))}",
            mean_std_cell(comparison.values(HYBRID, metric)), fmt(regret), p, verdict_text,
            "—" if trainings is None else f"{trainings:g}", str(len(layouts))]


def _search_trainings(run_dir: Path) -> float | None:
    path = run_dir / RESULTS
    try:
        value = json.loads(path.read_text()).get("search_trainings")
    except (OSError, json.JSONDecodeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _proxies(run_dir: Path) -> list[str]:
    """Each proxy search's task, α and final test accuracy against its chance level (program/alphas.json)."""
    path = run_dir / "program" / ALPHAS
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    lines = [f"Programmed α ({data.get('method')}): " + _alphas([data]) + " (α_0 per block).", ""]
    per_task = data.get("per_task") or {}
    if per_task:
        rows = [[task, _alphas([found]), fmt(found["test"].get("accuracy")), fmt(found.get("chance", {}).get("accuracy")),
                 {True: "yes", False: "**no**", None: "—"}[beats_chance(found["test"], found.get("chance"))],
                 "yes" if found.get("averaged", True) else "no"]
                for task, found in per_task.items()]
        lines += ["Proxy searches (each a small random-init copy of the hybrid, searched on its task):", "",
                  *table(["proxy task", "α_0 per block", "proxy test accuracy", "chance", "beats chance",
                          "in the average"], rows), ""]
    return lines


EXPERIMENTS_FILE = "EXPERIMENTS.md"


def section(experiment: Experiment, root: Path, previous: dict[str, list[str]] | None = None) -> list[str]:
    """The experiment's part of EXPERIMENTS.md; one whose runs are not on disk keeps its part of `previous` (the
    results below the heading, by experiment name: `previous_sections`) if it has one."""
    runs = experiment.runs()
    lines = [f"## `{experiment.name}`: {experiment.claim}", "",
             f"Command: `manticore experiments {experiment.name}` (config `configs/{experiment.config}`).", "",
             f"Scaled down: {experiment.scaled_down}", ""]
    records = {}
    for variant, _, run_dir in runs:
        record = record_path(Path(root) / run_dir, experiment.name)
        if record.exists():
            records[variant] = json.loads(record.read_text())
    if not records:
        kept = (previous or {}).get(experiment.name)
        if kept:
            return lines + [f"*Kept from the previous {EXPERIMENTS_FILE}: these runs are not on this disk (rerun them "
                            f"with `manticore experiments {experiment.name}`).*", "", *kept]
        return lines + ["Not run yet.", ""]
    total = sum(r["wall_s"] for r in records.values())
    times = ", ".join(f"{v or experiment.name} {r['wall_s']:.0f} s" + ("" if r["returncode"] == 0 else " (FAILED)")
                      for v, r in records.items())
    commits = sorted({r.get("commit") or "unknown" for r in records.values()})
    lines += [f"Wall time: {total / 60:.1f} min of runs ({times}), each in one process with one torch thread. "
              f"Code: {', '.join(f'`{c}`' for c in commits)}.", ""]
    lines += [f"- {v or experiment.name}: {r['note']}." for v, r in records.items() if r.get("note")]
    lines += [""] if any(r.get("note") for r in records.values()) else []
    done = [(v, Path(root) / d, read_comparison(Path(root) / d / RESULTS)) for v, _, d in runs if v in records]
    if any(not c.unusable for _, _, c in done):
        lines += _table(done) + [""] + _regret(done)
    for variant, run_dir, _ in done:
        extra = _proxies(run_dir)
        if (run_dir / "sweep" / SWEEP).exists() and (run_dir / REPORT).exists():
            extra += [f"The sweep's landscape, with the search path on it: [{run_dir / REPORT}]({run_dir / REPORT}) "
                      f"(section \"Architecture-loss landscape\").", ""]
        if extra:
            lines += ([f"### {variant}", ""] if variant else []) + extra
    return lines


def previous_sections(text: str) -> dict[str, list[str]]:
    """An EXPERIMENTS.md's results per experiment: the lines of each `## `name`` section from its wall-time line
    (or a kept section's own results) to the next section, so a rewrite can keep what it did not rerun."""
    sections, name, body = {}, None, []
    for line in text.splitlines() + ["## `"]:
        if line.startswith("## `"):
            if name is not None:
                start = next((i for i, l in enumerate(body) if l.startswith(("Wall time:", "*Kept from"))), None)
                if start is not None:
                    rest = body[start + 2:] if body[start].startswith("*Kept from") else body[start:]
                    if any(l.strip() for l in rest):
                        sections[name] = rest
            name, body = line[4:].split("`", 1)[0] or None, []
        elif name is not None:
            body.append(line)
    return sections


def write_experiments(experiments: list[Experiment], path: str | Path = "EXPERIMENTS.md",
                      root: str | Path = ".") -> Path:
    """Write EXPERIMENTS.md from the run directories of `experiments` (relative to `root`). An experiment whose
    runs are not on disk keeps its results from the file being replaced (say so in its section), so experiments
    can be rerun one at a time, on different machines; each section names the code (git commit) its runs ran."""
    lines = ["# Experiments", "",
             "Written by `manticore experiments` (`make experiments`) from the run directories; do not edit by "
             "hand. Each row is a model's test metrics, mean ± sample std over its seeds (n). *Chance* is the "
             "best constant predictor of the test labels; a model **beats chance** when its mean accuracy is at "
             f"least {ACCURACY_MARGIN:.2f} above it (without accuracy: a loss {LOSS_MARGIN:.0%} below it). A "
             "model that does not is inconclusive, and so is every comparison it is in: never evidence for a "
             "claim. Welch's t-test (two-sided) compares the hybrid with each other model; p < 0.05 is "
             "significant. Each run's own report.md has its curves, α and figures.", ""]
    records = [record_path(Path(root) / run_dir, experiment.name)
               for experiment in experiments for _, _, run_dir in experiment.runs()]
    walls = [json.loads(record.read_text())["wall_s"] for record in records if record.exists()]
    if walls:
        lines += [f"`make experiments` ran {len(walls)} runs whose wall times sum to {sum(walls) / 60:.0f} min; it runs "
                  f"two at a time (`--jobs 2`), so on 2 free cores it takes about half that. Each experiment's "
                  f"runs are timed below.", ""]
    path = Path(path)
    previous = previous_sections(path.read_text()) if path.exists() else {}
    for experiment in experiments:
        lines += section(experiment, Path(root), previous)
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
