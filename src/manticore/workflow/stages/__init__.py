"""The workflow's stages, one module each (paper, Appendix B.5 and G). This registry is the one list of them.

    pretrain             train components given as configs from scratch (stand-ins for pretrained LMs)
    pretrain-projectors  components frozen; projectors, α, embedding and head train on general text
    program              α without searching on the task (metadata or proxy MAD searches), then fine-tune
    search               α trains with the model (DARTS / GAEA / Gumbel-softmax)
    retrain              freeze the searched α, rewind to the pre-search weights, fine-tune
    discretize           α -> its argmax one-hot per block; unused branches are dropped
    sweep                fixed α over a grid (the architecture-loss landscape)
    baselines            each component alone and the hybrid, same budget, over seeds
    pareto               the quality-cost front: a cost-aware search per budget, each layout fine-tuned over seeds
    eval                 evaluate a saved model
    report               report.md and plots

The CLI's subcommands and their --help, run-config validation, `manticore run` and the report's ordering all
derive from `STAGES`. Adding a stage is one module (see `base.py`) plus one line in `BUILT_IN`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

from . import (
    baselines,
    discretize,
    evaluate,
    pareto,
    pretrain,
    pretrain_projectors,
    program,
    report,
    retrain,
    search,
    sweep,
)
from ... import rundir
from .base import STAGES, Stage

if TYPE_CHECKING:
    from ..run_config import RunConfig

BUILT_IN = (pretrain, pretrain_projectors, program, search, retrain, discretize, sweep, baselines, pareto, evaluate,
            report)
for _module in BUILT_IN:  # in workflow order
    STAGES.register(_module.STAGE)

__all__ = ["BUILT_IN", "STAGES", "Stage", "get", "names", "register", "run_stage", "run_workflow"]

names = STAGES.names  # every stage name, in the order the workflow runs them
get = STAGES.get  # the stage `name`; a ValueError lists the stages
register = STAGES.register  # add a stage from your own code (the registry's order puts it last)


def previous_output(cfg: RunConfig, name: str) -> str | None:
    """What an earlier run of stage `name` left in its directory: "a finished result" (a result.json in it or
    below it), "an unfinished run" (anything else), or None (nothing)."""
    where = cfg.stage_dir(name)
    if name == "report" or not where.is_dir() or not any(where.iterdir()):
        return None
    return "a finished result" if any(where.rglob(rundir.RESULT)) else "an unfinished run"


def run_stage(cfg: RunConfig, name: str, resume: bool = False) -> dict:
    """Run one stage with its settings from the run config, holding the run directory's writer lock. Says what
    an earlier run left: without `resume` it is replaced; with it, a finished stage is kept (only its settings
    are checked against the checkpoint) and an unfinished one continues."""
    stage, settings = get(name), cfg.stage_settings(name)
    with rundir.exclusive(cfg.out_dir):
        where = cfg.stage_dir(name)
        if resume and (where / rundir.PRUNED).exists():
            print(f"{name}: finished, and its checkpoints were pruned ({where / rundir.PRUNED}), so --resume keeps "
                  "it as it is without checking its settings; run it without --resume to train it again", flush=True)
            return rundir.read_json(where / rundir.RESULT) if (where / rundir.RESULT).exists() else {}
        (where / rundir.PRUNED).unlink(missing_ok=True)  # trained again: what runs now has its checkpoints
        found = previous_output(cfg, name)
        if found and not resume:
            print(f"{name}: replacing {found} in {cfg.stage_dir(name)} (--resume would keep it)", flush=True)
        elif found and resume:
            print(f"{name}: continuing {found} in {cfg.stage_dir(name)}" if found == "an unfinished run" else
                  f"{name}: {found} is in {cfg.stage_dir(name)}; --resume keeps what finished", flush=True)
        return stage.run(cfg, settings, resume)


def summary(cfg: RunConfig, name: str, result: dict) -> str:
    """The one line a finished stage prints: what it produced, its main test metric, and where it wrote it."""
    if "report" in result:
        return f"{name}: wrote {result['report']}"
    where = cfg.stage_dir(name)
    if "entries" in result:  # baselines: one entry per model and seed
        models = list(dict.fromkeys(e["model"] for e in result["entries"]))
        seeds = len({e.get("seed") for e in result["entries"]})
        return f"{name}: {len(models)} models x {seeds} seed(s) ({', '.join(models)}) -> {Path(cfg.out_dir) / rundir.RESULTS}"
    def metrics(test: dict) -> str:
        return ", ".join(f"{m} {test[m]:.4f}" for m in ("loss", "accuracy") if isinstance(test.get(m), (int, float)))

    if isinstance(result.get("test"), dict) and metrics(result["test"]):
        return f"{name}: test {metrics(result['test'])} -> {where}"
    parts = {key: metrics(value["test"]) for key, value in result.items()  # one result per part (pretrain's components)
             if isinstance(value, dict) and isinstance(value.get("test"), dict) and metrics(value["test"])}
    if parts:
        return f"{name}: test {'; '.join(f'{key} {text}' for key, text in parts.items())} -> {where}"
    return f"{name}: done -> {where}"


def run_workflow(cfg: RunConfig, resume: bool = False,
                 on_result: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """Run the stages the config lists under `run:`, in order; returns each stage's summary. Each stage ends
    with one line (`summary`); the last line names the report, or the run directory without one."""
    if not cfg.run:
        raise ValueError("Nothing to run: list stages under `run:` in the config (e.g. [search, retrain, report]).")
    results = {}
    with rundir.exclusive(cfg.out_dir):  # held from the first stage to the last: no other run slips in between
        for name in cfg.run:
            print(f"\n== {name} ==", flush=True)
            results[name] = run_stage(cfg, name, resume)
            print(summary(cfg, name, results[name]), flush=True)
            if on_result is not None:
                on_result(name, results[name])
    report = next((r["report"] for r in results.values() if "report" in r), None)
    print(f"\nReport: {report}" if report else f"\nResults: {cfg.out_dir}", flush=True)
    return results
