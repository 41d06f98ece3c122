"""At a glance: whether the hybrid beat each of its components on the primary metric, before anything else."""

from __future__ import annotations

from ..markdown import Page
from ..run import Run
from .comparison import verdict_line


def section(run: Run, page: Page) -> list[str]:
    verdicts = run.comparison.primary_verdicts()
    return ["## At a glance", "", *map(verdict_line, verdicts), ""] if verdicts else []
