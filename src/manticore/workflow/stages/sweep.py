"""Stage `sweep`: train or evaluate the hybrid with fixed α over a grid (the architecture-loss landscape).

The paper's Figure 3: with K=2 components, α_0 in {0, step, ..., 1} per block (a 2-D grid with L=2), each
point rewound to the same starting hybrid; the report draws the landscape with the search's path on it.

Reads:    the hybrid of `pretrain-projectors` if this run has one, else a new hybrid (saved as sweep/initial/).
Writes:   sweep/sweep.json (every point's α and test metrics, rewritten after each point, so a partial sweep
          is readable), sweep/point-<i>/ (each fine-tuned point).
Supports: K=2 components; any L (per_block: the product grid over blocks, else one α shared by all blocks);
          fine-tuning each point or evaluating it as is.

    manticore sweep --config run.yaml --set stages.sweep.grid_step=0.1
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Sequence

from ... import rundir
from ...checks import check
from ...train.config import TrainConfig
from .base import Stage, StageSettings, check_vocab, get_task, initial_hybrid
from .retrain import retrain

if TYPE_CHECKING:
    from ...tasks.base import Task
    from ..run_config import RunConfig


@dataclass
class SweepSettings(StageSettings):
    grid_step: float = 0.25
    """Spacing of α_0 on the grid: a number in (0, 1] that divides 1 (the paper's figure: 0.1)."""
    per_block: bool = True
    """Every combination of per-block α (step+1)^L points; false: one α shared by all blocks."""
    fine_tune: bool = True
    """Fine-tune each point with its α frozen (the `train` budget); false: only evaluate it."""

    def __post_init__(self):
        steps = 1 / self.grid_step if 0 < self.grid_step <= 1 else 0
        check(steps and abs(steps - round(steps)) < 1e-6, "grid_step", self.grid_step,
              "a number in (0, 1] that divides 1, e.g. 0.1, 0.25 or 0.5")


def sweep_grid(num_blocks: int, num_components: int, step: float = SweepSettings.grid_step,
               per_block: bool = SweepSettings.per_block) -> list[list[list[float]]]:
    """Fixed α to evaluate: K=2 gives α_0 in {0, step, ..., 1}; with per_block, the product over blocks."""
    if num_components != 2:
        raise ValueError(f"sweep_grid supports K=2 components (a 1-D grid per block); got K={num_components}.")
    values = [round(i * step, 6) for i in range(int(round(1 / step)) + 1)]
    rows = [[v, round(1 - v, 6)] for v in values]
    if not per_block:
        return [[row] * num_blocks for row in rows]
    return [list(combo) for combo in itertools.product(rows, repeat=num_blocks)]


def sweep(initial: str | Path, task: Task, grid: Sequence, train: TrainConfig, out_dir: str | Path,
          fine_tune: bool = SweepSettings.fine_tune, resume: bool = False) -> list[dict]:
    """For every fixed α in `grid`: rewind to `initial`, set and freeze α, fine-tune (or only evaluate).

    Writes out_dir/sweep.json after every point, so a partial sweep is still readable; with resume, each
    point continues from its own checkpoint (a finished point is not trained again).
    """
    from ...hybrid.build import load_hybrid
    from ...train.metrics import evaluate_model
    from ...train.parallel import is_main

    out_dir = Path(out_dir)
    points = []
    for i, alphas in enumerate(grid):
        hybrid = load_hybrid(initial)
        if fine_tune:
            _, result = retrain(hybrid, alphas, task, train, out_dir / f"point-{i:03d}", resume, kind="sweep",
                                label=f"point {i + 1}/{len(grid)}")
            metrics = result["test"]
        else:
            check_vocab(hybrid, task)
            hybrid.set_mixture_weights(alphas)
            metrics = evaluate_model(hybrid, task, "test", train.batch_size, train.eval_batches)
        points.append({"alphas": hybrid.mixture_weights().detach().tolist(), "test": metrics})
        if is_main():
            rundir.write_json(out_dir / rundir.SWEEP, {"kind": "sweep", "task": task.name, "num_blocks": len(alphas),
                                                       "fine_tune": fine_tune, "points": points})
    return points


def run(cfg: RunConfig, settings: SweepSettings, resume: bool = False) -> dict:
    from ...train.parallel import is_main

    task = get_task(cfg, settings.task)
    initial = cfg.stage_dir("sweep") / rundir.INITIAL
    if is_main() and not initial.exists():
        initial_hybrid(cfg, task).save_pretrained(initial)
    grid = sweep_grid(cfg.num_blocks, len(cfg.components), settings.grid_step, settings.per_block)
    return {"points": sweep(initial, task, grid, settings.train, cfg.stage_dir("sweep"), settings.fine_tune, resume)}


STAGE = Stage("sweep", "fine-tune or evaluate over a grid of fixed mixture weights", __doc__, SweepSettings, run)
