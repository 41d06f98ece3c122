"""Stage `report`: report.md and its plots for the whole run directory (`manticore.report`).

Reads:    everything the other stages wrote (metrics.jsonl and result.json of every stage, sweep.json,
          results.json); only a metrics.jsonl is required.
Writes:   report.md with an "At a glance" verdict, the stages table, the comparison of the hybrid with its
          components (mean ± std over seeds, Welch's t-test), the sweep landscape with the search path,
          α trajectories and loss curves, and a PNG beside it for each plot.

    manticore report RUN_DIR          (or `report` listed under a run config's `run:`)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import STAGES, NoSettings, Stage

if TYPE_CHECKING:
    from ..run_config import RunConfig


def run(cfg: RunConfig, settings: NoSettings, resume: bool = False) -> dict:
    from ...report import write_report

    return {"report": str(write_report(cfg.out_dir, STAGES.names()))}


STAGE = Stage("report", "write report.md and plots for the run directory", __doc__, NoSettings, run)
