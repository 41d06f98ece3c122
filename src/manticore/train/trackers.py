"""Experiment trackers: the engine's metric records also go to TensorBoard and/or Weights & Biases.

    train:
      report_to: [tensorboard, wandb]       # run config (TrainConfig.report_to)

Each record the engine writes to `metrics.jsonl` (see manticore.rundir) is logged at its step, flattened to scalars:

    train/loss, train/accuracy, train/perplexity      a training step's batches
    test/loss, test/accuracy, test/macro_accuracy ...  an evaluation
    lr/model, lr/arch                                  the learning rates after the step
    alpha/block{l}/{component}                         α per Manticore block l and component (hybrids): its
                                                       family (gpt_neo), with its index when two share one
                                                       (llama0, llama1); component{k} when the model has none

TensorBoard writes event files to `<stage dir>/tensorboard/` (`tensorboard --logdir runs/`); it needs the
`tensorboard` package (the `track` extra: `pip install '.[track]'` in a clone). W&B logs to the project in `WANDB_PROJECT`
(default "manticore"), run named after the stage directory, with the training settings as its config; it needs
`wandb` and a login (or `WANDB_MODE=offline`). Only the main process logs.

Adding a tracker is one class with `log(scalars, step)` and `close()`, and one line in TRACKERS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..checks import is_number
from ..errors import install_hint

TENSORBOARD_DIR = "tensorboard"  # inside the stage's directory


def component_tags(families: list[str] | None, num_components: int) -> list[str]:
    """What α's tags call each component: its family, with its index where families repeat; component{k}
    without families (or when their number doesn't match)."""
    if not families or len(families) != num_components:
        return [f"component{k}" for k in range(num_components)]
    return [f"{name}{k}" if families.count(name) > 1 else name for k, name in enumerate(families)]


def scalars(record: dict[str, Any], families: list[str] | None = None) -> dict[str, float]:
    """A metrics record flattened to named scalars (see the module docstring); non-numbers are left out.
    families: the hybrid's component families (its config's `adapters`), which name α's tags."""
    split = record.get("split", "train")
    out: dict[str, float] = {}
    for key, value in record.items():
        if key in ("step", "split"):
            continue
        if key == "alphas":
            tags = component_tags(families, len(value[0]) if value else 0)
            out.update({f"alpha/block{l}/{tags[k]}": float(a) for l, row in enumerate(value) for k, a in enumerate(row)})
        elif key == "lr":
            out["lr/model"] = float(value)
        elif key == "arch_lr":
            out["lr/arch"] = float(value)
        elif is_number(value):
            out[f"{split}/{key}"] = float(value)
    return out


class TensorBoard:
    """Scalars to TensorBoard event files in `out_dir/tensorboard`."""

    def __init__(self, out_dir: Path, config: dict[str, Any]):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError("train.report_to lists 'tensorboard', which needs the tensorboard package: "
                              f"{install_hint('track')}, or pip install tensorboard.") from err
        self.writer = SummaryWriter(log_dir=str(Path(out_dir) / TENSORBOARD_DIR))
        self.writer.add_text("train_config", "\n".join(f"    {k}: {v}" for k, v in config.items()), 0)

    def log(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandB:
    """Scalars to a Weights & Biases run (project WANDB_PROJECT, default 'manticore')."""

    def __init__(self, out_dir: Path, config: dict[str, Any]):
        try:
            import wandb
        except ImportError as err:
            raise ImportError("train.report_to lists 'wandb', which needs the wandb package: "
                              f"{install_hint('track')}, or pip install wandb.") from err
        out_dir = Path(out_dir)
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "manticore"),
                              name=f"{out_dir.parent.name}/{out_dir.name}", dir=str(out_dir), config=config,
                              reinit="finish_previous")

    def log(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def close(self) -> None:
        self.run.finish()


TRACKERS: dict[str, type] = {"tensorboard": TensorBoard, "wandb": WandB}


class Trackers:
    """The trackers a run reports to; `log(record)` sends one metrics record to each."""

    def __init__(self, names: list[str], out_dir: str | Path, config: dict[str, Any],
                 families: list[str] | None = None):
        self.families = families  # the hybrid's component families, for α's tags
        unknown = [n for n in names if n not in TRACKERS]
        if unknown:
            raise ValueError(f"Unknown tracker(s) {unknown} in train.report_to; accepted: {', '.join(TRACKERS)}.")
        self.trackers = [TRACKERS[name](Path(out_dir), config) for name in dict.fromkeys(names)]

    def log(self, record: dict[str, Any]) -> None:
        if self.trackers:
            values = scalars(record, self.families)
            for tracker in self.trackers:
                tracker.log(values, int(record["step"]))

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []
