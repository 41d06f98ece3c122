"""`manticore report RUN_DIR`: a Markdown report, with plots, of everything a run directory holds.

    from manticore.report import write_report
    write_report("runs/ptb")   # -> runs/ptb/report.md, with its PNGs beside it

What it reads (the schema is `manticore.rundir`'s), at any depth: every stage's metrics.jsonl and
result.json, every sweep.json, and results.json at the root (each component fine-tuned with the hybrid's
budget, and the hybrid, over seeds), and pareto/pareto.json (the `pareto` stage's cost-quality points).
Only a metrics.jsonl is required; the report says which other pieces it did not find.

What it writes: report.md with the verdict at a glance, a table of stages, the comparison table (mean ± std
over seeds, Welch's t-test of the hybrid against each component), the cost-quality front (test metric against
measured decode speed and KV-cache bytes), the sweep's loss landscape under the search's path through α, α
trajectories and loss curves.

The page is its head (title, "At a glance", "Not in this report") and then `SECTIONS`, in order. Adding a
section: write `sections/<name>.py` with `section(run, page) -> list[str]` (see `sections/__init__.py`),
and list it in `SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from manticore.rundir import REPORT, RESULTS, STAGE_FOLDERS

from .markdown import Page
from .run import Run, read_run
from .sections import alphas, comparison, glance, losses, pareto, stages, sweep

SECTIONS = (  # the body of the report, in page order: the headline comparison, the front, the landscape with
    comparison.section,  # the search path, α, then the details
    pareto.section,
    sweep.section,
    alphas.section,
    stages.section,
    losses.section,
)


def _title(run: Run) -> list[str]:
    return [f"# Manticore run report: `{run.path.resolve().name}`", "",
            f"Run directory: `{run.path}`. {len(run.stages)} stage(s), {len(run.sweeps)} sweep(s), "
            f"{'a' if (run.path / RESULTS).exists() else 'no'} `{RESULTS}`.", ""]


def _not_in_report(page: Page) -> list[str]:
    return ["## Not in this report", "", *(f"- {m}" for m in page.missing), ""] if page.missing else []


def write_report(run_dir: str | Path, stage_order: Sequence[str] = STAGE_FOLDERS) -> Path:
    """Write RUN_DIR/report.md and its PNGs from every stage found under run_dir; returns report.md's path.
    Stages are shown in the order of `stage_order` (the workflow's stage names; folders it doesn't name last).

    Raises ValueError if run_dir is not a directory or holds no metrics.jsonl at any depth.
    """
    run = read_run(Path(run_dir), stage_order)
    page = Page(run.path, missing=run.problems)
    body = [line for section in SECTIONS for line in section(run, page)]  # sections note what they lack on page
    head = _title(run) + glance.section(run, page) + _not_in_report(page)
    report = run.path / REPORT
    report.write_text("\n".join(head + body).rstrip() + "\n")
    return report
