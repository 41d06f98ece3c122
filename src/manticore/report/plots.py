"""The report's figures, each written to one PNG: loss curves, α trajectories, the sweep landscape, the
cost-quality (Pareto) front.

Shapes (numpy arrays):
    t  training steps with a record
    L  Manticore blocks (numbered from 1 in labels, as in the paper)
    K  components (numbered from 0: α_k is component k's weight)

Figures are built with `matplotlib.figure.Figure` and rendered by the Agg canvas, never through pyplot,
so nothing here touches the process's global backend or leaks open figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 120


@dataclass
class Trajectory:
    """A search's path through α: α_0 of every block at each logged step.

    steps: (t,); alpha0: (t, L), the weight of component 0 in each block.
    """

    label: str
    steps: np.ndarray
    alpha0: np.ndarray


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")  # legends below the axes stay in the picture
    return path


def _markers(n: int) -> str | None:
    return "o" if n <= 30 else None  # points on short curves, plain lines on long ones


def plot_loss_curves(path: Path, title: str, train_steps: np.ndarray, train_loss: np.ndarray,
                     test_steps: np.ndarray, test_loss: np.ndarray) -> Path:
    """Train loss (t,) per logged step and test loss at each evaluation, against the step."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    if len(train_steps):
        ax.plot(train_steps, train_loss, marker=_markers(len(train_steps)), ms=3, lw=1.2, label="train")
    if len(test_steps):
        ax.plot(test_steps, test_loss, marker="o", ms=5, ls="--", lw=1.2, color="C3", label="test")
    ax.set(title=title, xlabel="step", ylabel="loss (lower is better)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_headline(path: Path, title: str, metric: str, values: dict[str, Sequence[float]],
                  curves: dict[str, Sequence[tuple[np.ndarray, np.ndarray]]], chance: float | None = None,
                  highlight: str | None = None) -> Path:
    """The hybrid against each component on one figure. Left: each model's test `metric` over seeds (every
    seed a dot, the mean ± sample std a bar), with chance as a line. Right: each model's training loss curves,
    the seeds averaged step by step, on one shared axis. highlight: the model drawn in bold (the hybrid)."""
    fig = Figure(figsize=(11.0, 4.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
    names = list(values)
    for i, name in enumerate(names):
        data = np.asarray(values[name], dtype=float)
        color = f"C{i}"
        left.scatter(np.full(len(data), i), data, color=color, alpha=0.6, s=18, zorder=3)
        spread = data.std(ddof=1) if len(data) > 1 else 0.0
        left.errorbar([i], [data.mean()], yerr=[spread], fmt="_", ms=22, mew=2.5 if name == highlight else 1.5,
                      color=color, capsize=6, zorder=4)
    everything = np.concatenate([np.asarray(v, dtype=float) for v in values.values()])
    low, high = everything.min(), everything.max()
    pad = max(high - low, 1e-3 * max(abs(high), 1.0)) * 0.25
    shown = f"test {metric} over seeds (mean ± std)"
    if chance is not None and low - 4 * pad <= chance <= high + 4 * pad:
        left.axhline(chance, color="grey", ls=":", lw=1.2, label="chance")
        left.legend(fontsize=8)
    elif chance is not None:
        shown += f"; chance {chance:.4g}, off the axis"
        left.set_ylim(low - pad, high + pad)
    left.set_xticks(range(len(names)), names, rotation=20, ha="right")
    left.set(title=shown, ylabel=metric)
    left.grid(alpha=0.3, axis="y")
    for i, name in enumerate(names):
        runs = [c for c in curves.get(name, []) if len(c[0])]
        if not runs:
            continue
        length = min(len(steps) for steps, _ in runs)
        steps = runs[0][0][:length]
        mean = np.mean([loss[:length] for _, loss in runs], axis=0)
        right.plot(steps, mean, color=f"C{i}", lw=2.4 if name == highlight else 1.4,
                   label=f"{name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
    right.set(title="training loss (mean over seeds)", xlabel="step", ylabel="train loss (lower is better)")
    right.grid(alpha=0.3)
    if right.lines:
        right.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


@dataclass
class Curves:
    """One panel of small multiples: a run's train loss per logged step and test loss per evaluation."""

    name: str
    train_steps: np.ndarray
    train_loss: np.ndarray
    test_steps: np.ndarray
    test_loss: np.ndarray


def plot_loss_grid(path: Path, title: str, panels: Sequence[Curves]) -> Path:
    """Small multiples: one panel per run (train and test loss against the step), sharing both axes, so runs of
    one kind (the seeds of a baseline, the points of a sweep) compare at a glance."""
    fig, axes = _small_multiples(len(panels), max_cols=5, panel=(2.6, 2.1))
    for ax, panel in zip(axes.flat, panels):
        if len(panel.train_steps):
            ax.plot(panel.train_steps, panel.train_loss, lw=1.1, label="train")
        if len(panel.test_steps):
            ax.plot(panel.test_steps, panel.test_loss, marker="o", ms=4, ls="--", lw=1.0, color="C3", label="test")
        ax.set_title(panel.name, fontsize=8)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    return _finish_multiples(fig, axes, len(panels), path, f"{title} (lower is better)", "loss", legend_size=7)


def plot_alpha_grid(path: Path, title: str, panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
                    labels: Sequence[str]) -> Path:
    """Small multiples of α: one panel per run (label, steps (t,), α (t, L, K)), one line per block and component
    (with K = 2 only component 0's weight, the other being 1 minus it), sharing both axes."""
    fig, axes = _small_multiples(len(panels), max_cols=4, panel=(2.9, 2.2))
    for ax, (name, steps, alphas) in zip(axes.flat, panels):
        num_blocks, num_components = alphas.shape[1], alphas.shape[2]
        shown = [0] if num_components == 2 else range(num_components)
        for l in range(num_blocks):
            for k in shown:
                ax.plot(steps, alphas[:, l, k], lw=1.3, color=f"C{l}", ls=["-", "--", ":", "-."][k % 4],
                        label=f"block {l + 1}: {labels[k]}")
        ax.set_title(name, fontsize=8)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    return _finish_multiples(fig, axes, len(panels), path, title, "α", legend_size=6)


def _small_multiples(n: int, max_cols: int, panel: tuple[float, float]):
    """A figure of n panels in rows of at most max_cols, sharing both axes; panel: one panel's (width, height)."""
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig = Figure(figsize=(panel[0] * cols + 0.8, panel[1] * rows + 1.0))
    return fig, fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)


def _finish_multiples(fig, axes, n: int, path: Path, title: str, ylabel: str, legend_size: int) -> Path:
    """Hide the unused panels, label the outer axes, put the legend in the first panel, title and save."""
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    axes.flat[0].legend(fontsize=legend_size)
    fig.suptitle(title)
    return _save(fig, path)


def plot_alpha_trajectory(path: Path, title: str, steps: np.ndarray, alphas: np.ndarray,
                          labels: Sequence[str]) -> Path:
    """Mixture weights over training: one panel per block, one line per component (labels: (K,)).

    steps: (t,); alphas: (t, L, K).
    """
    num_blocks, num_components = alphas.shape[1], alphas.shape[2]
    fig = Figure(figsize=(6.4, 2.4 * num_blocks + 0.6))
    axes = fig.subplots(num_blocks, 1, sharex=True, squeeze=False)[:, 0]
    for l, ax in enumerate(axes):
        for k in range(num_components):
            ax.plot(steps, alphas[:, l, k], marker=_markers(len(steps)), ms=3, lw=1.4, label=labels[k])
        ax.set(ylabel=f"block {l + 1}: α", ylim=(-0.03, 1.03))
        ax.grid(alpha=0.3)
    axes[0].set_title(title)
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def _draw_path(ax, x: np.ndarray, y: np.ndarray, label: str, color: str, first: bool = True) -> None:
    """A search path, its start (circle) and end (star); the start and end enter the legend once."""
    ax.plot(x, y, color=color, lw=1.6, marker=_markers(len(x)), ms=3, label=label)
    ax.plot(x[:1], y[:1], "o", color=color, ms=8, mec="black", label="search start" if first else "_nolegend_")
    ax.plot(x[-1:], y[-1:], "*", color=color, ms=14, mec="black", label="search end" if first else "_nolegend_")


def plot_sweep_line(path: Path, title: str, alpha0: np.ndarray, loss: np.ndarray, xlabel: str,
                    trajectories: Sequence[Trajectory] = ()) -> Path:
    """Test loss against α_0 (a 1-D sweep); below it, on the same α_0 axis, each search's path by step.

    alpha0, loss: (n,) sweep points. Each block of each trajectory is one line of α_0 (x) against step (y),
    and a dotted line on the loss panel marks where it ended.
    """
    order = np.argsort(alpha0)
    fig = Figure(figsize=(6.4, 6.4 if trajectories else 4.4))
    if trajectories:
        ax, steps_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    else:
        ax, steps_ax = fig.add_subplot(), None
    ax.plot(alpha0[order], loss[order], marker="o", color="C0", lw=1.6, label="sweep: test loss")
    if np.isfinite(loss).any():
        best = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan)))
        ax.plot(alpha0[best], loss[best], "*", color="gold", ms=16, mec="black", label="lowest loss", zorder=5)
    ax.set(title=title, ylabel="test loss (lower is better)", xlim=(-0.03, 1.03))
    ax.grid(alpha=0.3)
    if steps_ax is not None:
        colors = iter(f"C{i}" for i in range(1, 10))
        for trajectory in trajectories:
            for l in range(trajectory.alpha0.shape[1]):
                block = f" block {l + 1}" if trajectory.alpha0.shape[1] > 1 else ""
                color = next(colors, "black")
                x, y = trajectory.alpha0[:, l], trajectory.steps
                steps_ax.plot(x, y, color=color, lw=1.4, marker=_markers(len(x)), ms=3,
                              label=f"{trajectory.label}{block}")
                steps_ax.plot(x[-1:], y[-1:], "*", color=color, ms=13, mec="black")
                ax.axvline(x[-1], color=color, ls=":", lw=1.5, label=f"{trajectory.label}{block}: end")
        steps_ax.set(ylabel="search step", xlabel=xlabel)
        steps_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        steps_ax.grid(alpha=0.3)
        steps_ax.legend(loc="best", fontsize="small")
    else:
        ax.set_xlabel(xlabel)
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted grid values (n,) -> (n + 1,), halfway between neighbours."""
    if len(values) == 1:
        return np.array([values[0] - 0.05, values[0] + 0.05])
    mid = (values[1:] + values[:-1]) / 2
    return np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]])


def plot_sweep_heatmap(path: Path, title: str, x: np.ndarray, y: np.ndarray, loss: np.ndarray,
                       labels: tuple[str, str], trajectories: Sequence[Trajectory] = ()) -> Path:
    """Test loss over a 2-D grid, with search paths on top.

    x, y: (n,) α_0 of block 1 and block 2 at each sweep point; loss: (n,). Missing grid cells stay blank.
    Trajectories must have L = 2: their α_0 of block 1 (x) against block 2 (y).
    """
    xs, ys = np.unique(x), np.unique(y)
    grid = np.full((len(ys), len(xs)), np.nan)
    grid[np.searchsorted(ys, y), np.searchsorted(xs, x)] = loss
    fig = Figure(figsize=(6.4, 5.4))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_invalid(grid), cmap="viridis_r", shading="flat")
    fig.colorbar(mesh, ax=ax, label="test loss (lower is better)")
    if np.isfinite(loss).any():
        best = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan)))
        ax.plot(x[best], y[best], "*", color="gold", ms=16, mec="black", label="lowest loss")
    colors = ["red", "white", "magenta", "orange", "cyan", "lime", "pink", "silver"]
    for i, trajectory in enumerate(trajectories):
        _draw_path(ax, trajectory.alpha0[:, 0], trajectory.alpha0[:, 1], trajectory.label, colors[i % len(colors)],
                   first=i == 0)
    ax.set(title=title, xlabel=labels[0], ylabel=labels[1], aspect="equal")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, fontsize="small", frameon=False)
    return _save(fig, path)


@dataclass
class CostAxis:
    """One panel of the Pareto figure: a cost of each of the n points, on x.

    x: (n,), nan where a point has no such cost; front: indices of the Pareto-optimal points, in x order.
    """

    label: str
    x: np.ndarray
    higher_is_better: bool
    front: Sequence[int]
    bytes: bool = False  # x is in bytes: drawn in the binary unit (B, KiB, MiB, GiB) of its largest value


def _in_binary_unit(x: np.ndarray) -> tuple[np.ndarray, str]:
    """Bytes (n,) in the binary unit of the largest of them, and the unit's name."""
    largest = np.nanmax(np.abs(x)) if np.isfinite(x).any() else 0.0
    power = 0 if largest < 1024 else min(3, int(np.log2(largest) // 10))
    return x / 1024.0**power, ("B", "KiB", "MiB", "GiB")[power]


POINT_STYLES = {  # kind of point -> (marker, colour, legend entry)
    "component": ("s", "C0", "component alone"),
    "mixture": ("D", "C3", "full mixture"),
    "budget": ("o", "C2", "budget point"),
    "layout": ("^", "C4", "fixed layout"),
}


def _coincident(x: np.ndarray, y: np.ndarray, drawn: np.ndarray, share: float = 0.02) -> list[tuple[int, list[int]]]:
    """The drawn points (n,) in groups that would overprint one another (within `share` of each axis's range):
    (the first point, every point of its group), so each group gets one label."""
    shown = np.flatnonzero(drawn)
    if not len(shown):
        return []
    span_x, span_y = (np.ptp(v[shown]) or 1.0 for v in (x, y))
    groups: list[tuple[int, list[int]]] = []
    for i in shown:
        for first, members in groups:
            if abs(x[i] - x[first]) <= share * span_x and abs(y[i] - y[first]) <= share * span_y:
                members.append(i)
                break
        else:
            groups.append((i, [i]))
    return groups


def plot_pareto(path: Path, title: str, names: Sequence[str], kinds: Sequence[str], mean: np.ndarray,
                std: np.ndarray, axes: Sequence[CostAxis], ylabel: str) -> Path:
    """The test metric (mean, error bar = std over seeds) of n points against each cost, one panel per cost,
    every point labelled with its name and the Pareto-optimal points joined.

    names, kinds: (n,); mean, std: (n,), nan where a point has no test metric (not drawn).
    """
    fig = Figure(figsize=(4.6 * len(axes), 4.9))
    panels = fig.subplots(1, len(axes), sharey=True, squeeze=False)[0]
    error = np.where(np.isfinite(std), std, 0.0)
    for ax, cost in zip(panels, axes):
        x, label = cost.x, cost.label
        if cost.bytes:
            x, unit = _in_binary_unit(cost.x)
            label = f"{label}, {unit}"
        drawn = np.isfinite(x) & np.isfinite(mean)
        for kind, (marker, color, name) in POINT_STYLES.items():
            shown = drawn & (np.asarray(kinds) == kind)
            if shown.any():
                ax.errorbar(x[shown], mean[shown], yerr=error[shown], fmt=marker, color=color, ms=8, mec="black",
                            capsize=3, label=name, zorder=3)
        if len(cost.front):
            front = list(cost.front)
            ax.plot(x[front], mean[front], ls="--", color="gray", lw=1.2, marker="o", ms=15, mfc="none",
                    label="Pareto-optimal", zorder=2)
        groups = _coincident(x, mean, drawn)
        span_x, span_y = (np.ptp(v[drawn]) or 1.0 for v in (x, mean)) if drawn.any() else (1.0, 1.0)
        below = set()  # labels moved under their point, so that neighbours' labels don't overprint
        for n, (i, together) in enumerate(groups):
            near = [j for j, _ in groups[:n] if abs(x[j] - x[i]) < 0.15 * span_x and abs(mean[j] - mean[i]) < 0.05 * span_y]
            if near and not any(j in below for j in near):
                below.add(i)
            ax.annotate(", ".join(names[j] for j in together), (x[i], mean[i]), textcoords="offset points",
                        xytext=(6, -14 if i in below else 6), fontsize="small")
        ax.set_xlabel(f"{label} ({'higher' if cost.higher_is_better else 'lower'} is better)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.margins(x=0.15, y=0.12)
        ax.grid(alpha=0.3)
    panels[0].set_ylabel(ylabel)
    legend = {}  # every panel's entries, once each
    for ax in panels:
        legend.update({label: handle for handle, label in zip(*ax.get_legend_handles_labels()) if label not in legend})
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=max(1, len(legend)), fontsize="small",
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path
