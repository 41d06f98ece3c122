"""The architecture-loss landscape: each sweep's test loss over fixed α (a line for one block or one α
shared by all blocks, a heatmap for two), under the path of every search on the same task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from manticore.rundir import SWEEP

from .. import plots
from ..markdown import Page, alpha_labels, fmt, image, table
from ..run import Run, Stage, Sweep, as_number, component_names

TOP_POINTS = 5  # rows of each sweep's best-points table


def _alpha0(stage: Stage) -> tuple[np.ndarray, np.ndarray]:
    """(steps (t,), α_0 (t, L)): the weight of component 0 in each block along the stage."""
    steps, alphas = stage.alphas()
    return steps, alphas[:, :, 0]


def _on_task(sweep: Sweep, searches: list[Stage], notes: list[str]) -> list[Stage]:
    """The searches that ran on the sweep's task (all of them when either side records no task): proxy
    searches of programming run on other tasks, and their paths mean nothing on this landscape."""
    kept = []
    for search in searches:
        if sweep.task is None or search.task is None or search.task == sweep.task:
            kept.append(search)
        else:
            notes.append(f"search `{search.name}` ran on task `{search.task}`, the sweep on `{sweep.task}`: "
                         f"path not drawn")
    return kept


def _plot(sweep: Sweep, searches: list[Stage], labels: list[str], page: Page, notes: list[str]) -> Path | None:
    """The sweep's landscape with every search path of matching shape; None (with a note) if it can't be drawn."""
    alpha0 = sweep.alphas[:, :, 0]  # (n, L)
    title = f"{sweep.name}: test loss over fixed α"
    if sweep.num_blocks == 1 or sweep.shared:
        trajectories = [plots.Trajectory(f"search `{s.name}`", *_alpha0(s)) for s in searches]
        xlabel = labels[0] + (" in every block" if sweep.num_blocks > 1 else "")
        return plots.plot_sweep_line(page.png("sweep", sweep.name), title, alpha0[:, 0], sweep.loss, xlabel,
                                     trajectories)
    if sweep.num_blocks == 2:
        trajectories = []
        for search in searches:
            steps, path = _alpha0(search)
            if path.shape[1] == 2:
                trajectories.append(plots.Trajectory(f"search `{search.name}`", steps, path))
            else:
                notes.append(f"search `{search.name}` has L={path.shape[1]} blocks, the sweep L=2: path not drawn")
        axes = (f"block 1: {labels[0]}", f"block 2: {labels[0]}")
        return plots.plot_sweep_heatmap(page.png("sweep", sweep.name), title, alpha0[:, 0], alpha0[:, 1], sweep.loss,
                                        axes, trajectories)
    notes.append(f"a per-block sweep over L={sweep.num_blocks} blocks has no 2-D picture; its best points are listed")
    return None


def section(run: Run, page: Page) -> list[str]:
    lines = ["## Architecture-loss landscape (sweep)", ""]
    if not run.sweeps:
        page.missing.append(f"no `{SWEEP}`, so no loss landscape")
        return lines + [f"No sweep (`{SWEEP}`) in this run.", ""]
    searches = [s for s in run.stages if s.is_search and s.alphas() is not None]
    if not searches:
        page.missing.append("no search stage (a result of kind \"search\", or a stage whose logged α moved), "
                            "so no search path on the sweep")
    for sweep in run.sweeps:
        notes: list[str] = []
        on_task = _on_task(sweep, searches, notes)
        labels = alpha_labels(component_names([sweep.path]) or run.components, sweep.alphas.shape[2])
        kind = ("one block" if sweep.num_blocks == 1 else f"one α shared by all {sweep.num_blocks} blocks"
                if sweep.shared else f"a per-block grid over {sweep.num_blocks} blocks")
        lines += [f"### `{sweep.name}`", "",
                  f"{len(sweep.tests)} points of fixed α ({kind}); test loss, lower is better."
                  + (f" {sweep.dropped} point(s) without α or a test loss were skipped." if sweep.dropped else ""), ""]
        path = _plot(sweep, on_task, labels, page, notes)
        if path is not None:
            lines += [image(path, f"loss landscape of {sweep.name}"), ""]
        order = np.argsort(sweep.loss, kind="stable")[:TOP_POINTS]
        has_accuracy = any(as_number(t.get("accuracy")) is not None for t in sweep.tests)
        header = ["rank", "α_0 per block", "test loss"] + (["test accuracy"] if has_accuracy else [])
        rows = [[str(rank + 1), "(" + ", ".join(f"{a:.2f}" for a in sweep.alphas[i, :, 0]) + ")",
                 fmt(sweep.tests[i]["loss"])] + ([fmt(sweep.tests[i].get("accuracy"))] if has_accuracy else [])
                for rank, i in enumerate(order)]
        lines += [f"Lowest test losses ({labels[0]} per block):", "", *table(header, rows), ""]
        for search in on_task:
            end = _alpha0(search)[1][-1]
            lines.append(f"- search `{search.name}` ended at α_0 = ({', '.join(f'{a:.2f}' for a in end)}).")
        lines += [f"- {note}" for note in notes] + [""]
        lines += _against_the_search(run, sweep, order[0]) if len(order) else []
    return lines


def _against_the_search(run: Run, sweep: Sweep, best: int) -> list[str]:
    """Whether the grid's best point beats the searched hybrid (after retraining, else as searched), and why the
    grid's one-hot corners need not equal the components of the baselines."""
    searched = next((s for name in ("retrain", "search") for s in run.stages if s.name == name
                     and as_number((s.final_test() or {}).get("loss")) is not None), None)
    lines = []
    if searched is not None:
        point, hybrid = float(sweep.loss[best]), float(searched.final_test()["loss"])
        where = "(" + ", ".join(f"{a:.2f}" for a in sweep.alphas[best, :, 0]) + ")"
        lines.append(f"The grid's best point, α_0 = {where}, reaches {fmt(point)}; the searched hybrid reaches "
                     f"{fmt(hybrid)} (`{searched.name}`). " + (
                         "**The grid's best point beats the search**: the search did not find the best mixture on "
                         "this grid." if point < hybrid else "The search is at least as good as every grid point."))
    lines.append("Each grid point rewinds to the hybrid before search (after projector pretraining, if the run has "
                 "it), fixes α and fine-tunes with the sweep's budget (`stages.sweep.train`). Its one-hot corners are "
                 "that hybrid with one branch: its shared embedding, head and projectors. A component in the "
                 "baselines is the component alone, with its own embedding and head and the baselines' budget, "
                 "so the corners and the components need not agree.")
    return lines + [""]
