"""The `make demo` job: the Manticore workflow on the embedded default (configs/demo.yaml).

Pretrains two small byte-level components (GPT-Neo, Mamba) on Shakespeare, pretrains the hybrid's
projectors, searches the mixture weights on the synthetic completions task, retrains, compares each
component with the hybrid over seeds, discretizes, and writes runs/demo/report.md.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from .hybrid.build import load_hybrid
from .hybrid.summary import describe
from .train.quickstart import CONFIGS
from .train.run_config import load_run_config
from .train.workflow import run_stage


def summarise_results(path: Path) -> str:
    """Mean ± std test loss per model from results.json."""
    results = json.loads(path.read_text())
    by_model: dict[str, list[float]] = {}
    for entry in results["entries"]:
        by_model.setdefault(entry["model"], []).append(entry["test"]["loss"])
    lines = [f"Test loss on {results['task']} (lower is better), mean ± std over seeds:"]
    for model, losses in by_model.items():
        std = statistics.stdev(losses) if len(losses) > 1 else 0.0
        lines.append(f"  {model:<10} {statistics.mean(losses):.4f} ± {std:.4f}  (n={len(losses)})")
    return "\n".join(lines)


def run_demo(out_dir: str | Path = "runs/demo", overrides: list[str] = ()) -> dict:
    config = load_run_config(CONFIGS / "demo.yaml", [f"out_dir={out_dir}", *overrides])
    out = Path(config.out_dir)
    results, start = {}, time.time()
    for stage in config.run:
        print(f"\n== {stage} ==", flush=True)
        results[stage] = run_stage(config, stage)
    if (out / "retrain" / "model").exists():
        print("\nThe retrained hybrid:\n" + describe(load_hybrid(out / "retrain" / "model")))
    if (out / "results.json").exists():
        print("\n" + summarise_results(out / "results.json"))
    if (out / "discretize" / "discretize.json").exists():
        report = json.loads((out / "discretize" / "discretize.json").read_text())
        tuned = report.get("test_after_fine_tuning")
        print(f"\nDiscretized: {report['parameters_before']:,} -> {report['parameters_after']:,} parameters, "
              f"test loss {report['test']['loss']:.4f}" + (f", {tuned['loss']:.4f} after fine-tuning" if tuned else ""))
    print(f"\nDone in {time.time() - start:.0f} s. Report: {out / 'report.md'}")
    return results
