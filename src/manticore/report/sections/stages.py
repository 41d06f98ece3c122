"""The table of stages: steps, final train loss, test metrics and final α of every stage."""

from __future__ import annotations

from manticore.rundir import METRIC_NAMES, METRICS, RESULT

from ..markdown import Page, fmt, fmt_alphas, table
from ..run import Run


def section(run: Run, page: Page) -> list[str]:
    rows = []
    for stage in run.stages:
        test = stage.final_test() or {}
        train = stage.split("train")
        steps = max((r["step"] for r in stage.records), default=None)
        rows.append([f"`{stage.name}`", fmt(steps, 0) if steps is not None else "—",
                     fmt(train[-1].get("loss")) if train else "—",
                     *(fmt(test.get(m)) for m in METRIC_NAMES), fmt_alphas(stage.final_alphas())])
        if not test:
            page.missing.append(f"stage `{stage.name}` has no test evaluation (no `{RESULT}`, no test records)")
        elif stage.result is None:
            page.missing.append(f"stage `{stage.name}` has no `{RESULT}` (unfinished?); its test metrics are the last "
                                f"test record of `{METRICS}`")
        page.missing.extend(f"stage `{stage.name}`: {problem}" for problem in stage.problems)
    return ["## Stages", "",
            "Final metrics of each stage (test: lower loss and perplexity are better, higher accuracy is better). "
            "α: the mixture weights at the end, one [α_0 … α_K-1] per block.", "",
            *table(["stage", "steps", "final train loss", *(f"test {m.replace('_', ' ')}" for m in METRIC_NAMES),
                    "final α"], rows), ""]
