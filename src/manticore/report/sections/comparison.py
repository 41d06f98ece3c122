"""Components against the hybrid: each model's test metrics over seeds, and Welch's t-test of the hybrid
against each component (the verdicts are `Run.comparison`'s; this section only renders them)."""

from __future__ import annotations

import re

import numpy as np

from manticore.rundir import ACCURACY_MARGIN, HYBRID, LOSS_MARGIN

from .. import plots
from ..markdown import Page, better, fmt, fmt_p, image, table
from ..results import Verdict
from ..run import Run
from ..stats import MIN_SEEDS, SIGNIFICANCE, Summary


def verdict_line(verdict: Verdict) -> str:
    """"- hybrid vs **gpt_neo** on loss: significant: hybrid better, p = 0.03494." (also "At a glance"'s)"""
    p = f", p = {fmt_p(verdict.test.p)}" if verdict.test is not None else ""
    return f"- hybrid vs **{verdict.model}** on {verdict.metric}: {verdict.outcome}{p}."


def mean_std_cell(values: list[float]) -> str:
    """mean ± sample std over seeds; the mean alone for one seed."""
    if not values:
        return "—"
    summary = Summary.of(values)
    return fmt(summary.mean) if summary.n < MIN_SEEDS else f"{fmt(summary.mean)} ± {fmt(summary.std)}"


def headline(run: Run, page: Page) -> list[str]:
    """The headline figure: every model's primary test metric over seeds and its training curves, one axis each
    (the training curves are the baselines' runs of that model, baselines/<model>/seed<s>)."""
    comparison = run.comparison
    values = {model: comparison.values(model, comparison.primary) for model in comparison.models}
    values = {model: v for model, v in values.items() if v}
    if not values:
        return []
    curves = {model: [s.curve("train") for s in run.stages
                      if re.fullmatch(rf"baselines/{re.escape(model)}/seed\d+", s.name)] for model in values}
    path = plots.plot_headline(page.png("headline", "comparison"), f"{comparison.task}: the hybrid against its "
                               "components", comparison.primary, values, curves,
                               (comparison.chance or {}).get(comparison.primary), highlight=HYBRID)
    return [image(path, "the hybrid against each component: test metric over seeds and training curves"), ""]


def section(run: Run, page: Page) -> list[str]:
    comparison = run.comparison
    lines = ["## Components against the hybrid", ""]
    page.missing.extend(comparison.notes)
    if comparison.unusable:
        return lines + [comparison.unusable, ""]
    metrics, primary = comparison.metrics, comparison.primary
    lines += [f"Task: `{comparison.task}`; primary metric: **{primary}** ({better(primary)}). "
              "Each component was fine-tuned with the same budget as the hybrid. Cells are the mean ± sample "
              "standard deviation over seeds (n seeds); "
              + "; ".join(f"{m}: {better(m)}" for m in metrics) + ".", ""]
    rows = []
    for model, entries in comparison.models.items():
        seeds = sorted({e.get("seed") for e in entries if e.get("seed") is not None}, key=str)
        cells = [mean_std_cell(comparison.values(model, metric)) for metric in metrics]
        learned = {True: "yes", False: "**no**: inconclusive", None: "—"}[comparison.learned(model)]
        rows.append([f"**{model}**" if model == HYBRID else model, str(len(entries)),
                     ", ".join(map(str, seeds)) or "—", *cells, learned])
    if comparison.chance:
        rows.append(["*chance*", "—", "—", *(fmt(comparison.chance.get(m)) for m in metrics), "—"])
    lines += headline(run, page) + table(["model", "n", "seeds", *(f"test {m} ({better(m)})" for m in metrics),
                                         "beats chance"], rows) + [""]
    if comparison.chance:
        lines += [f"*Chance* is the best constant predictor of the test labels (the most frequent label's share, "
                  f"the entropy of the label distribution, 1 / the number of classes). A model beats chance when "
                  f"its mean accuracy is at least {ACCURACY_MARGIN:.2f} above it (without accuracy: a loss "
                  f"{LOSS_MARGIN:.0%} below it); a model that does not makes its row and every verdict it is in "
                  f"inconclusive, never evidence.", ""]
    if HYBRID not in comparison.models or len(comparison.models) == 1:
        return lines  # nothing to test (comparison.notes say why)

    lines += ["### Significance", "",
              f"Welch's t-test (two-sided, unequal variances) of the hybrid against each component, significant at "
              f"p < {SIGNIFICANCE}; it needs at least {MIN_SEEDS} seeds on each side. \"hybrid − component\" is the "
              f"difference of the means: negative favours the hybrid on loss and perplexity, positive on accuracy.",
              ""]
    rows = []
    for v in comparison.verdicts:
        test = ([f"{v.test.t:.3f}", f"{v.test.df:.2f}", fmt_p(v.test.p)] if v.test is not None else ["—"] * 3)
        rows.append([v.model, f"{v.metric} ({better(v.metric)})", fmt(np.mean(v.hybrid)), fmt(np.mean(v.component)),
                     fmt(v.difference), *test, v.outcome])
    header = ["component", "metric", "hybrid mean", "component mean", "hybrid − component", "Welch t", "df", "p",
              "verdict"]
    lines += table(header, rows) + [""]
    if comparison.primary_verdicts():
        lines += [f"On the primary metric ({primary}):", "", *map(verdict_line, comparison.primary_verdicts()), ""]
    return lines
