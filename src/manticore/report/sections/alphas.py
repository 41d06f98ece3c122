"""Mixture weights (α): each stage's trajectory of α per block, its final α and the argmax per block; runs of one
kind (the searches of a baseline's seeds, of a front's budgets) share one figure of small multiples and a table."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..markdown import Page, alpha_labels, component_labels, fmt_alphas, image, table
from ..run import Run, component_names
from .losses import kind_of, label_of


def section(run: Run, page: Page) -> list[str]:
    lines = ["## Mixture weights (α)", "",
             "α^(l) = softmax(a^(l)) mixes the components in Manticore block l (blocks numbered from 1); "
             "α_k is component k's weight.", ""]
    fixed, found, groups = [], False, {}
    for stage in run.stages:
        trajectory = stage.alphas()
        if trajectory is None:
            continue
        found = True
        steps, alphas = trajectory
        if not stage.alpha_moved:
            fixed.append(f"- `{stage.name}`: α fixed at {fmt_alphas(alphas[0])}")
            continue
        groups.setdefault(kind_of(stage.name), []).append((stage, steps, alphas))
    for kind, members in groups.items():
        names = component_names([members[0][0].path]) or run.components
        families = component_labels(names, members[0][2].shape[2])

        def winners(final, families=families) -> str:
            return ", ".join(f"block {l + 1} → {families[int(np.argmax(row))]}" for l, row in enumerate(final))

        if len(members) == 1:
            stage, steps, alphas = members[0]
            path = plots.plot_alpha_trajectory(page.png("alphas", stage.name), f"{stage.name}: mixture weights",
                                               steps, alphas, alpha_labels(names, alphas.shape[2]))
            lines += [f"### `{stage.name}`", "", image(path, f"α trajectory of {stage.name}"), "",
                      f"Final α: {fmt_alphas(alphas[-1])}; discretized (argmax per block): {winners(alphas[-1])}.", ""]
            continue
        panels = [(label_of(stage.name, kind), steps, alphas) for stage, steps, alphas in members]
        path = plots.plot_alpha_grid(page.png("alphas", kind), f"{kind}: mixture weights", panels,
                                     alpha_labels(names, members[0][2].shape[2]))
        rows = [[f"`{label_of(stage.name, kind)}`", fmt_alphas(alphas[-1]), winners(alphas[-1])]
                for stage, _, alphas in members]
        lines += [f"### `{kind}` ({len(members)} runs)", "", image(path, f"α trajectories of {kind}"), "",
                  *table(["run", "final α", "argmax per block"], rows), ""]
    if fixed:
        lines += ["Stages with α held fixed (not plotted):", "", *fixed, ""]
    if not found:
        page.missing.append("no stage logged mixture weights (`alphas`), so there are no α trajectories")
        lines += ["No stage logged mixture weights.", ""]
    return lines
