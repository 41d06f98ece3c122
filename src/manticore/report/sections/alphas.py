"""Mixture weights (α): each stage's trajectory of α per block, its final α and the argmax per block."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..markdown import Page, alpha_labels, component_labels, fmt_alphas, image
from ..run import Run, component_names


def section(run: Run, page: Page) -> list[str]:
    lines = ["## Mixture weights (α)", "",
             "α^(l) = softmax(a^(l)) mixes the components in Manticore block l (blocks numbered from 1); "
             "α_k is component k's weight.", ""]
    fixed, found = [], False
    for stage in run.stages:
        trajectory = stage.alphas()
        if trajectory is None:
            continue
        found = True
        steps, alphas = trajectory
        if not stage.alpha_moved:
            fixed.append(f"- `{stage.name}`: α fixed at {fmt_alphas(alphas[0])}")
            continue
        names = component_names([stage.path]) or run.components
        path = plots.plot_alpha_trajectory(page.png("alphas", stage.name), f"{stage.name}: mixture weights", steps,
                                           alphas, alpha_labels(names, alphas.shape[2]))
        final = alphas[-1]
        families = component_labels(names, alphas.shape[2])
        winners = ", ".join(f"block {l + 1} → {families[int(np.argmax(row))]}" for l, row in enumerate(final))
        lines += [f"### `{stage.name}`", "", image(path, f"α trajectory of {stage.name}"), "",
                  f"Final α: {fmt_alphas(final)}; discretized (argmax per block): {winners}.", ""]
    if fixed:
        lines += ["Stages with α held fixed (not plotted):", "", *fixed, ""]
    if not found:
        page.missing.append("no stage logged mixture weights (`alphas`), so there are no α trajectories")
        lines += ["No stage logged mixture weights.", ""]
    return lines
