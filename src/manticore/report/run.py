"""Reading a run directory for the report: its stages, sweeps and the hybrid's component families.

The file names and their schema are `manticore.rundir`'s. The report reads leniently: a piece it
cannot use becomes a note (in `problems`) for the report's "Not in this report", never an exception.

Shapes (numpy arrays): t logged steps, n sweep points, L Manticore blocks, K components.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from manticore.checks import is_number
from manticore import rundir

from .results import Comparison, read_comparison

SEARCH = "search"  # the kind a search stage records in its result.json (its name in manticore.workflow.stages)
FIXED_ATOL = 1e-9  # α that moves less than this over a whole stage was held fixed

T = TypeVar("T")


def as_number(value: Any) -> float | None:
    """A JSON value as a float if it is a number (not a bool), else None."""
    return float(value) if is_number(value) else None


@dataclass
class Stage:
    """One stage directory: its metrics.jsonl records and result.json (None if absent)."""

    name: str  # path relative to the run directory, e.g. "search" or "baselines/gpt_neo/seed0"
    path: Path
    records: list[dict[str, Any]]
    result: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    trajectory: tuple[np.ndarray, np.ndarray] | None = None  # see alphas()

    def split(self, split: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("split") == split]

    def curve(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (t,), losses (t,)) of the records of one split that have a numeric loss."""
        rows = [r for r in self.split(split) if as_number(r.get("loss")) is not None]
        return np.array([r["step"] for r in rows], dtype=float), np.array([r["loss"] for r in rows], dtype=float)

    def alphas(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps (t,), α (t, L, K)) from the train records that log mixture weights, or None."""
        return self.trajectory

    def final_test(self) -> dict[str, Any] | None:
        """Test metrics from result.json, else from the last test record of metrics.jsonl."""
        if self.result and isinstance(self.result.get("test"), dict):
            return self.result["test"]
        tests = self.split("test")
        return {k: v for k, v in tests[-1].items() if k not in ("step", "split")} if tests else None

    def final_alphas(self) -> list[list[float]] | None:
        if self.result and self.result.get("alphas"):
            return self.result["alphas"]
        trajectory = self.alphas()
        return trajectory[1][-1].tolist() if trajectory else None

    @property
    def kind(self) -> str | None:
        """The stage that wrote result.json ("search", "retrain", ...); None for older runs that don't say."""
        kind = self.result.get("kind") if self.result else None
        return kind if isinstance(kind, str) else None

    @property
    def task(self) -> str | None:
        """The task this stage trained on, as its result.json records it; None if it doesn't."""
        task = self.result.get("task") if self.result else None
        return task if isinstance(task, str) else None

    @property
    def alpha_moved(self) -> bool:
        """Whether the logged α changed during the stage (False when α was held fixed or not logged)."""
        return self.trajectory is not None and float(np.ptp(self.trajectory[1], axis=0).max()) > FIXED_ATOL

    @property
    def is_search(self) -> bool:
        """Whether this stage searched α: its result.json says kind "search". A result without a kind
        (older runs) falls back to the data: α moved during training (α held fixed is not a search)."""
        return self.kind == SEARCH if self.kind is not None else self.alpha_moved


@dataclass
class Sweep:
    """A sweep.json: n points of fixed α (n, L, K) and their test metrics."""

    name: str
    path: Path
    alphas: np.ndarray
    tests: list[dict[str, Any]]
    num_blocks: int
    dropped: int  # points without α or a numeric test loss
    task: str | None = None  # the task its points were trained on, if sweep.json records it

    @property
    def loss(self) -> np.ndarray:
        return np.array([t["loss"] for t in self.tests], dtype=float)

    @property
    def shared(self) -> bool:
        """Whether every point gives all blocks the same α (a 1-D grid, as sweep_grid(per_block=False))."""
        return bool(np.allclose(self.alphas, self.alphas[:, :1], atol=1e-9))


@dataclass
class Run:
    """Everything the report reads from a run directory."""

    path: Path
    stages: list[Stage]  # in workflow order
    sweeps: list[Sweep]  # in workflow order
    comparison: Comparison  # results.json
    components: list[str] | None  # the hybrid's component families, from a saved hybrid config
    problems: list[str]  # pieces that could not be read (sweeps'; stages and results.json keep their own)


def read_run(run_dir: Path, stage_order: Sequence[str] = rundir.STAGE_FOLDERS) -> Run:
    """Read every stage, sweep and results.json under run_dir; stages and sweeps sorted by `stage_order` (the
    workflow's stage names, in order).

    Raises ValueError if run_dir is not a directory or holds no metrics.jsonl at any depth.
    """
    if not run_dir.is_dir():
        raise ValueError(f"Run directory {str(run_dir)!r} does not exist or is not a directory.")
    stages = find_stages(run_dir, stage_order)
    if not stages:
        raise ValueError(f"No stage found in {str(run_dir)!r}: looked for `{rundir.METRICS}` files (written by every "
                         f"training stage) in it and every folder below it, and found none.")
    problems: list[str] = []
    found = in_workflow_order(run_dir.rglob(rundir.SWEEP), lambda p: _name(p.parent, run_dir), stage_order)
    sweeps = [s for p in found
              if (s := read_sweep(p, run_dir, problems)) is not None]
    return Run(run_dir, stages, sweeps, read_comparison(run_dir / rundir.RESULTS),
               component_names([s.path for s in stages]), problems)


# -- order -------------------------------------------------------------------------------------------------------
def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def in_workflow_order(items: Iterable[T], name: Callable[[T], str], stage_order: Sequence[str]) -> list[T]:
    """items sorted by the position in `stage_order` of the first path part of name(item) (unknown folders
    after the known ones), then by name, numbers in names compared as numbers (seed2 before seed10)."""
    rank = {stage: i for i, stage in enumerate(stage_order)}

    def key(item: T) -> tuple:
        text = name(item)
        first = Path(text).parts[0] if text != "." else ""
        return rank.get(first, len(rank)), _natural(text)

    return sorted(items, key=key)


# -- stages --------------------------------------------------------------------------------------------------------
def _name(path: Path, run_dir: Path) -> str:
    return path.relative_to(run_dir).as_posix()


def _read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        problems.append(f"could not read `{path.name}`: {error}")
        return None


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of a metrics.jsonl, and how many lines were not records (e.g. cut off by a crash)."""
    records, bad = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict) and as_number(record.get("step")) is not None:
            records.append(record)
        else:
            bad += 1
    return records, bad


def read_trajectory(records: list[dict[str, Any]], problems: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps (t,), α (t, L, K)) of the train records that log mixture weights; None (and a note) if unusable."""
    rows = [r for r in records if r.get("split") == "train" and r.get("alphas")]
    if not rows:
        return None
    try:
        alphas = np.array([r["alphas"] for r in rows], dtype=float)
    except (TypeError, ValueError):
        problems.append("its logged α change shape between steps; α not plotted")
        return None
    if alphas.ndim != 3:
        problems.append(f"its logged α are not [[K floats] per block] (shape {alphas.shape[1:]}); α not plotted")
        return None
    return np.array([r["step"] for r in rows], dtype=float), alphas


def find_stages(run_dir: Path, stage_order: Sequence[str] = rundir.STAGE_FOLDERS) -> list[Stage]:
    """Every folder under run_dir (itself included) with a metrics.jsonl, in the order of `stage_order`."""
    stages = []
    for metrics in run_dir.rglob(rundir.METRICS):
        problems: list[str] = []
        records, bad = read_metrics(metrics)
        if bad:
            problems.append(f"{bad} line(s) of `{rundir.METRICS}` are not JSON records and were skipped")
        if not records:
            problems.append(f"`{rundir.METRICS}` has no records yet")
        result_path = metrics.parent / rundir.RESULT
        result = _read_json(result_path, problems) if result_path.exists() else None
        stages.append(Stage(_name(metrics.parent, run_dir), metrics.parent, records,
                            result if isinstance(result, dict) else None, problems,
                            read_trajectory(records, problems)))
    return in_workflow_order(stages, lambda s: s.name, stage_order)


# -- sweeps and the hybrid's components ---------------------------------------------------------------------------
def read_sweep(path: Path, run_dir: Path, problems: list[str]) -> Sweep | None:
    """A sweep.json's usable points (α and a numeric test loss), or None (with a note) if it has none."""
    name = _name(path.parent, run_dir)
    data = _read_json(path, problems)
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list):
        problems.append(f"sweep `{name}`: `{rundir.SWEEP}` has no list of `points`")
        return None
    kept = [p for p in points if isinstance(p, dict) and p.get("alphas") and isinstance(p.get("test"), dict)
            and as_number(p["test"].get("loss")) is not None]
    try:
        alphas = np.array([p["alphas"] for p in kept], dtype=float)
    except (TypeError, ValueError):
        problems.append(f"sweep `{name}`: its points' α have different shapes")
        return None
    if not kept or alphas.ndim != 3:
        problems.append(f"sweep `{name}`: no point has α [[a, 1-a] per block] and a test loss")
        return None
    num_blocks = int(data.get("num_blocks") or alphas.shape[1])
    if num_blocks != alphas.shape[1]:
        problems.append(f"sweep `{name}`: num_blocks={num_blocks} but its points' α have {alphas.shape[1]} blocks; "
                        f"using {alphas.shape[1]}")
    task = data.get("task")
    return Sweep(name, path.parent, alphas, [p["test"] for p in kept], alphas.shape[1], len(points) - len(kept),
                 task if isinstance(task, str) else None)


def component_names(dirs: list[Path]) -> list[str] | None:
    """The hybrid's component families from a saved hybrid config (stage/model or stage/initial), if any."""
    for directory in dirs:
        for sub in (rundir.MODEL, rundir.INITIAL, "."):
            config = directory / sub / "config.json"
            if not config.exists():
                continue
            try:
                data = json.loads(config.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            names = data.get("adapters") or [c.get("model_type") for c in data.get("components") or []]
            if names and all(isinstance(n, str) for n in names):
                return names
    return None
