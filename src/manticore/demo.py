"""The `make demo` job: the Manticore workflow on the embedded default (configs/demo.yaml).

Pretrains two small byte-level components (GPT-Neo, Mamba) on Shakespeare, pretrains the hybrid's
projectors, searches the mixture weights on the synthetic completions task, retrains, compares each
component with the hybrid over seeds, discretizes, and writes runs/demo/report.md.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from . import rundir
from .workflow.run_config import shipped_config
from .workflow.stages import run_workflow


def summarise_results(path: Path) -> str:
    """Mean ± std test loss per model from results.json."""
    results = rundir.read_json(path)
    by_model: dict[str, list[float]] = {}
    for entry in results["entries"]:
        by_model.setdefault(entry["model"], []).append(entry["test"]["loss"])
    lines = [f"Test loss on {results['task']} (lower is better), mean ± std over seeds:"]
    for model, losses in by_model.items():
        std = statistics.stdev(losses) if len(losses) > 1 else 0.0
        lines.append(f"  {model:<10} {statistics.mean(losses):.4f} ± {std:.4f}  (n={len(losses)})")
    return "\n".join(lines)


def run_demo(out_dir: str | Path = "runs/demo", overrides: list[str] = ()) -> dict:
    from .hybrid.build import load_hybrid
    from .hybrid.summary import describe

    config = shipped_config("demo", [f"out_dir={out_dir}", *overrides])
    out, start = Path(config.out_dir), time.time()
    results = run_workflow(config)
    retrained = config.stage_dir("retrain") / rundir.MODEL
    if retrained.exists():
        print("\nThe retrained hybrid:\n" + describe(load_hybrid(retrained)))
    if (out / rundir.RESULTS).exists():
        print("\n" + summarise_results(out / rundir.RESULTS))
    if (config.stage_dir("discretize") / rundir.DISCRETIZE).exists():
        report = rundir.read_json(config.stage_dir("discretize") / rundir.DISCRETIZE)
        tuned = report.get("test_after_fine_tuning")
        print(f"\nDiscretized: {report['parameters_before']:,} -> {report['parameters_after']:,} parameters, "
              f"test loss {report['test']['loss']:.4f}" + (f", {tuned['loss']:.4f} after fine-tuning" if tuned else ""))
    print(f"\nDone in {time.time() - start:.0f} s. Report: {out / rundir.REPORT}")
    return results
