"""Checkpoints of a training run: writing them, reading them back, refusing one written by another run, loading
one into an engine, and trimming the metrics log to match.

    save(engine)             # every process calls it (under FSDP the states are gathered); rank 0 writes
    load(engine) -> bool     # the latest checkpoint of this run into the engine; False if there is none

A checkpoint holds the model, both optimizers, the schedulers, the RNG states (`seeding.py`) and the data
position, with the run's training settings, task and search (`run_record`). It is written to a temporary file
and renamed; the previous one is kept beside it. It holds tensors and plain data only and loads with
`weights_only=True`. A checkpoint whose settings differ from this run's (another seed, lr, batch size,
algorithm...) is refused, naming the fields, unless they are listed in `TrainConfig.resume_override`; a corrupt
latest checkpoint falls back to the previous one with a warning. Temporary files an interrupted write left
behind are removed (`remove_orphans`). File names: `manticore.rundir`.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from ..errors import first_line
from ..rundir import CHECKPOINT, METRICS, PREVIOUS_CHECKPOINT
from .seeding import rng_state, set_rng_state

if TYPE_CHECKING:
    from .engine import Engine

RUN_KEYS = ("config", "task", "search")  # what identifies a run in its checkpoints (`run_record`)


def run_record(engine: Engine) -> dict[str, Any]:
    """What identifies this run in its checkpoints: the training settings, the task and the search."""
    return {"config": engine.config.to_dict(), "task": engine.task.name,
            "search": None if engine.search is None else engine.search.to_dict()}


# -- writing --------------------------------------------------------------------------------------------------
def save(engine: Engine) -> None:
    """Everything needed to continue exactly, written by rank 0 (`write`); every process calls it."""
    model_state, optimizer_states = _gathered_states(engine)
    if engine.rank == 0:
        write(engine.out_dir, {
            "step": engine.step,
            "model": model_state,
            "optimizers": optimizer_states,
            "schedulers": {k: s.state_dict() for k, s in engine.schedulers.items()},
            "stream": engine.stream.state_dict(),
            "arch_stream": engine.arch_stream.state_dict() if engine.arch_stream else None,
            "rng": rng_state(),
            "algorithm": engine.algorithm.state_dict() if engine.algorithm is not None else None,
            "final": engine.final,
            **run_record(engine),
        })
    if engine.world > 1:
        dist.barrier()


def _gathered_states(engine: Engine) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's and the optimizers' states; under FSDP gathered whole (a collective)."""
    if engine.sharded:
        return (engine.sharded.model_state(),
                {k: engine.sharded.optimizer_state(o) for k, o in engine.optimizers.items()})
    return engine.model.state_dict(), {k: o.state_dict() for k, o in engine.optimizers.items()}


def write(out_dir: Path, state: dict[str, Any]) -> None:
    """Write `state` atomically (a temporary file, then a rename), keeping the previous checkpoint beside it."""
    with tempfile.NamedTemporaryFile(dir=out_dir, suffix=".tmp", delete=False) as tmp:
        torch.save(state, tmp)
    if (out_dir / CHECKPOINT).exists():
        os.replace(out_dir / CHECKPOINT, out_dir / PREVIOUS_CHECKPOINT)
    os.replace(tmp.name, out_dir / CHECKPOINT)


def remove_orphans(out_dir: Path) -> None:
    """Remove the temporary files of writes that were interrupted (the caller holds the run directory's lock)."""
    for orphan in out_dir.glob("tmp*.tmp"):
        orphan.unlink(missing_ok=True)


def clear(out_dir: Path) -> None:
    """Start a run afresh: an empty metrics log and no checkpoints."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS).write_text("")
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        (out_dir / name).unlink(missing_ok=True)


# -- reading --------------------------------------------------------------------------------------------------
def read(out_dir: Path, device: torch.device) -> tuple[Path, dict[str, Any]] | None:
    """The latest checkpoint that loads (the previous one, with a warning, if the latest is corrupt), or None
    if there is none. Loads tensors and plain data only (weights_only=True)."""
    paths = [out_dir / name for name in (CHECKPOINT, PREVIOUS_CHECKPOINT) if (out_dir / name).exists()]
    errors = []
    for path in paths:
        try:
            state = torch.load(path, map_location=device, weights_only=True)
            if not isinstance(state, dict) or "step" not in state or "model" not in state:
                raise ValueError("it holds no training state")
        except Exception as err:
            errors.append(f"{path}: {first_line(err)}")
            continue
        if errors:  # stacklevel 4: the line of Engine.train that resumes (via load_checkpoint and load)
            warnings.warn(f"{errors[0]}; resuming from the previous checkpoint {path} instead.", stacklevel=4)
        return path, state
    if errors:
        raise ValueError(f"No checkpoint this engine can load in {out_dir} ({'; '.join(errors)}). "
                         "Delete them to start the stage afresh.")
    return None


def check_same_run(path: Path, state: dict[str, Any], mine: dict[str, Any]) -> None:
    """Refuse a checkpoint written by another run: settings, task or search that differ from this run's
    (`mine`, a `run_record`), except the fields listed in its resume_override, are named."""
    theirs = {k: state.get(k) for k in RUN_KEYS}
    allowed = set(mine["config"]["resume_override"]) | {"resume_override", "report_to"}  # report_to: no effect
    differ = [f"{field}: checkpoint {theirs['config'].get(field)!r}, this run {value!r}"
              for field, value in mine["config"].items()
              if field not in allowed and (theirs["config"] or {}).get(field, value) != value]
    differ += [f"{key}: checkpoint {theirs[key]!r}, this run {mine[key]!r}" for key in ("task", "search")
               if theirs[key] != mine[key]]
    if differ:
        raise ValueError(
            f"{path} was written by another run ({'; '.join(differ)}). Resume with the settings that wrote it, "
            "delete the checkpoint to start afresh, or list deliberate changes in train.resume_override "
            "(e.g. [max_steps]).")


# -- loading into an engine -----------------------------------------------------------------------------------
def load(engine: Engine) -> bool:
    """Restore the latest checkpoint of this run; False (and nothing changed) if there is none."""
    found = read(engine.out_dir, engine.device)
    if found is None:
        if engine.rank == 0:
            print(f"No checkpoint in {engine.out_dir}: starting fresh.", flush=True)
        return False
    path, state = found
    check_same_run(path, state, run_record(engine))
    _load_weights(engine, path, state)
    engine.stream.load_state_dict(state["stream"])
    if engine.arch_stream and state["arch_stream"]:
        engine.arch_stream.load_state_dict(state["arch_stream"])
    set_rng_state(state["rng"])
    engine.step = state["step"]
    finished = engine.step >= engine.config.max_steps
    engine.final = state.get("final") if finished else None
    if engine.rank == 0:
        truncate_log(engine.out_dir / METRICS, engine.step, engine.config.max_steps if engine.final is None else None)
    return True


def _load_weights(engine: Engine, path: Path, state: dict[str, Any]) -> None:
    """The model's, the optimizers' and the schedulers' states; a checkpoint that does not fit is named."""
    try:
        if engine.sharded:
            engine.sharded.load(state["model"], engine.optimizers, state["optimizers"])
        else:
            engine.model.load_state_dict(state["model"])
            for name, optimizer in engine.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in engine.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])
        if engine.algorithm is not None and state.get("algorithm"):
            engine.algorithm.load_state_dict(state["algorithm"], engine)
    except (RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"{path} does not fit this model ({first_line(err)}). Delete it to start "
                         "the stage afresh.") from None


def truncate_log(path: Path, step: int, max_steps: int | None) -> None:
    """Drop log lines written after the checkpoint at `step`, so a resumed run's log reads as one run.

    The final evaluation (at max_steps) is dropped too, since the resumed run writes it again; max_steps None
    (a finished run, not trained again) keeps it.
    """
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    kept = [r for r in records if r["step"] < step or (r["step"] == step and not (step == max_steps and r["split"] == "test"))]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
