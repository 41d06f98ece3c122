"""Loss curves: train loss at each logged step and test loss at each evaluation, one figure per stage."""

from __future__ import annotations

from .. import plots
from ..markdown import Page, image
from ..run import Run


def section(run: Run, page: Page) -> list[str]:
    lines = ["## Loss curves", "",
             "Train loss at each logged step, test loss at each evaluation (lower is better).", ""]
    for stage in run.stages:
        (train_steps, train_loss), (test_steps, test_loss) = stage.curve("train"), stage.curve("test")
        if not len(train_steps) and not len(test_steps):
            lines += [f"- `{stage.name}`: no losses logged yet.", ""]
            continue
        path = plots.plot_loss_curves(page.png("loss", stage.name), f"{stage.name}: loss", train_steps, train_loss,
                                      test_steps, test_loss)
        lines += [f"### `{stage.name}`", "", image(path, f"loss curves of {stage.name}"), ""]
    return lines
