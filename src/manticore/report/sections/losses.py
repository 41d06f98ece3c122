"""Loss curves: train loss at each logged step and test loss at each evaluation, as small multiples, one figure
per kind of run (a stage, or a folder of its runs: the seeds of a baseline, the points of a sweep)."""

from __future__ import annotations

import re

from .. import plots
from ..markdown import Page, image
from ..run import Run

SERIAL = re.compile(r"/(seed\d+|point-\d+|layout-[\d-]+|budget-[\d.]+)(/|$)")  # what tells runs of one kind apart
PROXY = re.compile(r"^(program/proxy)/[^/]+")  # programming's proxy searches, one folder per MAD task


def kind_of(name: str) -> str:
    """The kind of a stage's run: its name with each seed, sweep point or layout folder as `*`
    (baselines/mamba/seed0 -> baselines/mamba/*; the run itself if it has none)."""
    name, previous = PROXY.sub(r"\1/*", name), None
    while previous != name:
        previous, name = name, SERIAL.sub(r"/*\2", name, count=1)
    return name


def label_of(name: str, kind: str) -> str:
    """What tells the run apart from the others of its kind: the parts its kind writes as `*`."""
    parts = [p for p, k in zip(name.split("/"), kind.split("/")) if k == "*"]
    return "/".join(parts) or name


def section(run: Run, page: Page) -> list[str]:
    lines = ["## Loss curves", "",
             "Train loss at each logged step, test loss at each evaluation (lower is better); runs of one kind "
             "share a figure and its axes.", ""]
    groups: dict[str, list[plots.Curves]] = {}
    for stage in run.stages:
        (train_steps, train_loss), (test_steps, test_loss) = stage.curve("train"), stage.curve("test")
        if not len(train_steps) and not len(test_steps):
            lines += [f"- `{stage.name}`: no losses logged yet."]
            continue
        kind = kind_of(stage.name)
        label = label_of(stage.name, kind)
        groups.setdefault(kind, []).append(plots.Curves(label, train_steps, train_loss, test_steps, test_loss))
    for kind, panels in groups.items():
        path = plots.plot_loss_grid(page.png("loss", kind), f"{kind}: loss", panels)
        lines += [f"### `{kind}`" + (f" ({len(panels)} runs)" if len(panels) > 1 else ""), "",
                  image(path, f"loss curves of {kind}"), ""]
    return lines
