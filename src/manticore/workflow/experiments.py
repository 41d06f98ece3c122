"""The paper's experiments at CPU scale: each one shipped config, run over its variants, timed.

    manticore experiments                 # every experiment (`make experiments`), then EXPERIMENTS.md
    manticore experiments c2-mad --jobs 2 # one experiment, two variants at a time
    manticore experiments c2-mad/memorization   # one variant
    manticore experiments --report-only   # only rewrite EXPERIMENTS.md from the runs on disk

`configs/experiments.yaml` lists them: for each, the claim it tests, its run config (in configs/), what was
scaled down from the paper, and its variants, each a list of `--set` overrides (e.g. the task). A variant
runs as `manticore run --config <config> --set ... --set out_dir=<config's out_dir>/<variant>` in its own
process (one torch thread each, `--jobs` at a time) and writes experiment-<name>.json (its wall time) and
.log (its output) beside its report. The tables of EXPERIMENTS.md are written by the report tool
(`report.experiments`) from those run directories, never typed by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import rundir
from ..rundir import record_path
from ..report.experiments import write_experiments
from .run_config import CONFIGS, load_run_config

EXPERIMENTS = CONFIGS / "experiments.yaml"
@dataclass(frozen=True)
class Experiment:
    """One experiment of configs/experiments.yaml."""

    name: str
    claim: str
    """What it tests: the claim and the paper's table or figure."""
    config: str
    """Its run config, a file name in configs/."""
    scaled_down: str
    """What differs from the paper's setting, and why (CPU scale)."""
    variants: dict[str, list[str]] = field(default_factory=dict)
    """Variant name -> `--set` overrides; none: the config as is, in its own out_dir."""
    after: list[str] = field(default_factory=list)
    """Experiments whose runs this one reads (they run first)."""

    def runs(self) -> list[tuple[str, list[str], Path]]:
        """(variant, overrides, run directory) of every variant; the variant "" when there are none."""
        base = Path(load_run_config(CONFIGS / self.config).out_dir)
        if not self.variants:
            return [("", [], base)]
        return [(name, [*sets, f"out_dir={base / name}"], base / name) for name, sets in self.variants.items()]


def load_experiments(path: Path = EXPERIMENTS) -> dict[str, Experiment]:
    """Every experiment, in file order; a ValueError names a bad entry."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    experiments = {}
    for name, values in data.items():
        try:
            experiments[name] = Experiment(name=name, **values)
        except TypeError as err:
            raise ValueError(f"{path}: experiment {name!r}: {err}") from None
        if not (CONFIGS / experiments[name].config).exists():
            raise ValueError(f"{path}: experiment {name!r}: no config {experiments[name].config!r} in {CONFIGS}.")
    return experiments


def select(names: list[str], experiments: dict[str, Experiment]) -> list[Experiment]:
    """The named experiments (all when none), with those they read from first."""
    unknown = [n for n in names if n not in experiments]
    if unknown:
        raise ValueError(f"Unknown experiment(s) {unknown}; accepted: {', '.join(experiments)}.")
    chosen, wanted = [], list(names or experiments)
    def add(name: str) -> None:
        for before in experiments[name].after:
            add(before)
        if experiments[name] not in chosen:
            chosen.append(experiments[name])
    for name in wanted:
        add(name)
    return chosen


def code_version() -> str | None:
    """The git commit of the code that runs (with "+changes" when the work tree differs from it); None outside
    a git checkout."""
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+changes" if dirty else "")


def run_variant(experiment: Experiment, variant: str, overrides: list[str], out: Path) -> dict:
    """Run one variant in its own process (one torch thread); write and return its experiment.json."""
    command = [sys.executable, "-m", "manticore.cli", "run", "--config", str(CONFIGS / experiment.config)]
    for item in overrides:
        command += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out.mkdir(parents=True, exist_ok=True)
    label = f"{experiment.name}/{variant}" if variant else experiment.name
    log_path = record_path(out, experiment.name, "log")
    print(f"[experiments] {label}: started (log: {log_path})", flush=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    record = {"experiment": experiment.name, "variant": variant, "config": experiment.config,
              "overrides": overrides, "wall_s": round(time.perf_counter() - start, 1), "returncode": code,
              "commit": code_version()}
    rundir.write_json(record_path(out, experiment.name), record)
    status = "done" if code == 0 else f"FAILED (exit {code}; see {log_path})"
    print(f"[experiments] {label}: {status} in {record['wall_s']:.0f} s", flush=True)
    return record


def run_experiments(names: list[str] = (), jobs: int = 2, report: str | Path = "EXPERIMENTS.md") -> Path:
    """Run the named experiments (all by default; "name/variant" runs one variant), `jobs` variants at a
    time, then write the report."""
    experiments = load_experiments()
    only = {name.split("/", 1)[0]: name.split("/", 1)[1] for name in names if "/" in name}  # one variant
    chosen, failed = select([name.split("/", 1)[0] for name in names], experiments), []
    for name, variant in only.items():
        if variant not in experiments[name].variants:
            raise ValueError(f"Experiment {name!r} has no variant {variant!r}; accepted: "
                             f"{', '.join(experiments[name].variants)}.")
    # waves: experiments that read no other's runs share one pool of `jobs` processes; the rest follow
    for wave in ([e for e in chosen if not e.after], [e for e in chosen if e.after]):
        runs = [(experiment, *run) for experiment in wave for run in experiment.runs()
                if experiment.name not in only or run[0] == only[experiment.name]]
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            records = list(pool.map(lambda item: run_variant(*item), runs))
        failed += [f"{r['experiment']}/{r['variant']}" for r in records if r["returncode"]]
    path = write_experiments(list(experiments.values()), report)
    if failed:
        raise RuntimeError(f"Experiment run(s) failed: {', '.join(failed)}; their logs are experiment-<name>.log in "
                           f"each run directory. {path} was written from what finished.")
    return path
