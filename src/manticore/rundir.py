"""The run-directory schema: every file name, entry name and metric direction, in one place.

    RUN_DIR/
      <stage>/                 one folder per stage (STAGE_FOLDERS, then any you register)
        metrics.jsonl          the engine's log: {"step", "split": "train" | "test", "loss", "accuracy",
                               "perplexity"?, "lr"?, "alphas"?: [[K floats] per block]} per line
        checkpoint.pt          the engine's resumable state (tensors and plain data; weights_only loading)
        checkpoint-previous.pt the one before it
        result.json            {"kind": <stage>, "task": <task name>, "test": {metric: value}, "alphas"?: [[...]]}
        model/                 the trained model (save_pretrained), with its model card (README.md)
        pruned.json            {"files", "bytes"}: `manticore prune` removed its finished runs' checkpoints
      search/initial/          the hybrid before search (retrain rewinds to it)
      sweep/sweep.json         {"kind": "sweep", "task", "num_blocks", "fine_tune", "points": [{"alphas", "test"}]}
      program/alphas.json      {"kind": "program", "method", "alphas", ...}
      discretize/discretize.json   {"kind": "discretize", parameters and timing before / after, "test", ...}
      search/cost.json         the searched hybrid's cost profile (CostModel.profile(): "components", "num_blocks",
                               "contexts", "branches": [{"block", "component", "name", "<measure>@<context>"...}],
                               "head", "latency"?), with its "fingerprint" (structure and machine)
      pareto/pareto.json       {"kind": "pareto", "task", "metric", "measure", "context", "unit" (the cheapest
                               component's cost in measure), "components": [names], "points": [{"kind":
                               "component" | "mixture" | "budget" | "layout", "name", "budget" (relative) | null, "layout" |
                               null, "alphas" | null, "cost": {"decode_s_per_token", "decode_tokens_per_s",
                               "kv_bytes@4096", "kv_bytes@32768", "params", "flops@<context>", "relative" (in
                               measure, per unit)}, "test": {metric: {"mean", "std", "n", "values"}}}]}
      results.json             {"task", "metric", "chance"?: {metric: value}, "search_trainings"?, "entries":
                               [{"model", "seed", "test", "alphas"?}]}: each
                               component and the hybrid fine-tuned with the same budget, over seeds
      report.md                the report, with its PNGs beside it
      experiment-<name>.json   a `manticore experiments` run's record (and .log, its output)

Every JSON file is written atomically (a temporary file, then a rename), so a crash never leaves half a file.
Only the main process writes (see `engine.is_main`); the helpers here don't check, their callers do.

One writer per run directory: a stage holds `RUN_DIR/.lock` (an exclusive `flock`, with the holder's pid,
host and start time written in it) while it runs (`exclusive`), and a second process that tries to write
into the same directory is refused at once, told who holds it. The operating system drops the lock when its
holder exits, however it exits, so a killed run leaves no lock behind: the next run takes the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import RunDirectoryBusy

# -- file and folder names ------------------------------------------------------------------------------------
LOCK = ".lock"  # the run directory's writer lock (see `exclusive`)
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint-previous.pt"  # the one before, kept in case the latest is corrupt
RESULT = "result.json"
RESULTS = "results.json"
SWEEP = "sweep.json"
ALPHAS = "alphas.json"
DISCRETIZE = "discretize.json"
COST = "cost.json"  # a hybrid's cost profile (manticore.hybrid.cost), with its measured latency and where it ran
PARETO = "pareto.json"
REPORT = "report.md"
PRUNED = "pruned.json"  # in a stage's folder: `prune` removed its finished runs' checkpoints (what, how much)
MODEL = "model"  # a stage's trained model (save_pretrained)
INITIAL = "initial"  # the hybrid before search, which retrain rewinds to

# The built-in stages' folders, in workflow order: the order the report shows what it finds (a stage you register
# yourself is shown after these unless the caller passes the registry's order, as the `report` stage does).
STAGE_FOLDERS = ("pretrain", "pretrain-projectors", "program", "search", "retrain", "discretize", "sweep",
                 "baselines", "pareto", "eval", "report")


def record_path(run_dir: str | Path, experiment: str, suffix: str = "json") -> Path:
    """run_dir/experiment-<name>.json: {experiment, variant, config, overrides, wall_s, returncode} (and .log,
    the run's output); named by experiment, since two experiments may share a run directory (c3-proxy)."""
    return Path(run_dir) / f"experiment-{experiment}.{suffix}"

# -- entry names in results.json ------------------------------------------------------------------------------
HYBRID = "hybrid"  # the searched hybrid, fine-tuned


def programmed(method: str) -> str:
    """The results.json entry name of a hybrid whose α was programmed by `method` (metadata, proxy)."""
    return f"programmed-{method}"


# -- costs (cost.json, pareto.json, result.json's "cost") ------------------------------------------------------
# measure -> its unit; per token (FLOPs, seconds) or per sequence of `context` tokens (bytes)
COST_MEASURES = {"params": "parameters", "flops": "FLOPs per decoded token", "prefill_flops": "FLOPs per prefilled token",
                 "kv_bytes": "KV-cache bytes per sequence", "state_bytes": "recurrent-state bytes per sequence",
                 "cache_bytes": "cache bytes per sequence", "decode_latency": "seconds per decoded token",
                 "prefill_latency": "seconds per prefilled token"}
LATENCY_MEASURES = ("decode_latency", "prefill_latency")


# -- metrics ----------------------------------------------------------------------------------------------------
METRIC_NAMES = ("loss", "accuracy", "macro_accuracy", "perplexity")
# the direction of every metric we log; macro_accuracy: per-class accuracy averaged over classes, as MAD reports
LOWER_IS_BETTER = {"loss": True, "perplexity": True, "accuracy": False, "macro_accuracy": False}


# A model "learned" its task when its test accuracy beats the task's chance level (the best constant predictor,
# Task.chance) by ACCURACY_MARGIN, absolute; for a task without accuracy, when its loss is LOSS_MARGIN (a
# fraction) below chance. Results of a model that did not are inconclusive (report), and a proxy search that
# did not is left out of a programmed average (program).
ACCURACY_MARGIN = 0.05
LOSS_MARGIN = 0.05


def beats_chance(test: dict[str, float], chance: dict[str, float] | None) -> bool | None:
    """Whether test metrics clearly beat the chance level; None when there is nothing to compare."""
    chance = chance or {}
    if test.get("accuracy") is not None and chance.get("accuracy") is not None:
        return test["accuracy"] >= chance["accuracy"] + ACCURACY_MARGIN
    if test.get("loss") is not None and chance.get("loss") is not None:
        return test["loss"] <= chance["loss"] * (1 - LOSS_MARGIN)
    return None


def lower_is_better(metric: str) -> bool:
    """Whether a lower value of `metric` is better; a ValueError names the metrics we know."""
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"Unknown metric {metric!r}; known: {', '.join(LOWER_IS_BETTER)}.")
    return LOWER_IS_BETTER[metric]


# -- reading and writing ----------------------------------------------------------------------------------------
_HELD: dict[Path, int] = {}  # run directories this process holds, with how many nested `exclusive` blocks


@contextlib.contextmanager
def exclusive(run_dir: str | Path) -> Iterator[None]:
    """Hold `run_dir`'s writer lock for the block (re-entrant in one process; only the main process of a
    distributed run takes it). Raises RunDirectoryBusy, naming the holder, if another process holds it."""
    run_dir = Path(run_dir).absolute()
    if int(os.environ.get("RANK", "0")) != 0:  # only the main process writes
        yield
        return
    if run_dir in _HELD:  # this process holds it already (a workflow running its stages)
        _HELD[run_dir] += 1
        try:
            yield
        finally:
            _HELD[run_dir] -= 1
        return
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"out_dir {run_dir} can't be a run directory: it (or a parent) is a file.") from None
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunDirectoryBusy(f"{run_dir} is being written by another run ({holder}). Wait for it to finish, "
                               "or give this run another out_dir.") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
    _HELD[run_dir] = 1
    try:
        yield
    finally:
        del _HELD[run_dir]
        os.close(fd)  # releases the lock


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON, atomically; creates the folder. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(data, tmp, indent=2, default=str)
    os.replace(tmp.name, path)
    return path


def read_json(path: str | Path) -> Any:
    """The JSON in `path`; a ValueError says which file is missing or unreadable."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist.") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None


def write_result(out_dir: str | Path, kind: str, task: str, test: dict[str, float],
                 alphas: list[list[float]] | None = None, **extra: Any) -> dict[str, Any]:
    """out_dir/result.json: what stage `kind` measured on `task` (test metrics, final α); returns the record."""
    record = result_record(kind, task, test, alphas, **extra)
    write_json(Path(out_dir) / RESULT, record)
    return record


def result_record(kind: str, task: str, test: dict[str, float], alphas: list[list[float]] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The contents of a result.json: {"kind", "task", "test", "alphas"?, ...extra}."""
    return {"kind": kind, "task": task, "test": test, **({"alphas": alphas} if alphas is not None else {}), **extra}


def read_result(out_dir: str | Path) -> dict[str, Any]:
    """out_dir/result.json; a ValueError if the stage has not finished there."""
    path = Path(out_dir) / RESULT
    if not path.exists():
        raise ValueError(f"No {RESULT} in {out_dir}: the stage has not finished there (run it first).")
    return read_json(path)


def add_results(run_dir: str | Path, task: str, entries: list[dict[str, Any]], metric: str = "loss",
                chance: dict[str, float] | None = None, search_trainings: float | None = None) -> Path:
    """Merge entries ({"model", "seed", "test", ...}) into run_dir/results.json, replacing earlier entries of
    the same models; the file names its task, primary metric and the task's chance level (Task.chance), and what
    the hybrid's search cost in trainings of one model's budget (search_trainings)."""
    path = Path(run_dir) / RESULTS
    results = read_json(path) if path.exists() else {"task": task, "metric": metric, "entries": []}
    if chance is not None:
        results["chance"] = chance
    if search_trainings is not None:
        results["search_trainings"] = search_trainings
    replaced = {entry["model"] for entry in entries}
    results["entries"] = [e for e in results["entries"] if e["model"] not in replaced] + list(entries)
    return write_json(path, results)


def prune(run_dir: str | Path, dry_run: bool = False) -> dict[str, Any]:
    """Delete the checkpoints of finished runs (a folder with a result.json beside them) in every stage of
    `run_dir`, keeping results, logs and models; unfinished runs keep theirs (they can still resume). Each stage
    folder that lost any gets a pruned.json, so `--resume` knows it finished. Returns {"files", "bytes",
    "stages", "unfinished"} (with dry_run, what would go). The caller holds the run directory's lock."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{str(run_dir)!r} is not a run directory (no such directory).")
    removed, unfinished, stages = [], [], {}
    for checkpoint in sorted(p for name in (CHECKPOINT, PREVIOUS_CHECKPOINT) for p in run_dir.rglob(name)):
        folder = checkpoint.parent
        if not (folder / RESULT).exists():
            unfinished.append(str(folder.relative_to(run_dir)))
            continue
        stage = folder.relative_to(run_dir).parts[0] if folder != run_dir else "."
        size = checkpoint.stat().st_size
        removed.append(size)
        files, total = stages.get(stage, (0, 0))
        stages[stage] = (files + 1, total + size)
        if not dry_run:
            checkpoint.unlink()
    if not dry_run:
        for stage, (files, total) in stages.items():
            marker = run_dir / stage / PRUNED
            before = read_json(marker) if marker.exists() else {"files": 0, "bytes": 0}
            write_json(marker, {"files": before["files"] + files, "bytes": before["bytes"] + total})
    return {"files": len(removed), "bytes": sum(removed), "stages": sorted(stages),
            "unfinished": sorted(set(unfinished))}
