"""`manticore report RUN_DIR`: a Markdown report, with plots, of everything a run directory holds.

    from manticore.report import write_report
    write_report("runs/ptb")   # -> runs/ptb/report.md, with its PNGs beside it

What it reads (written by the training stages: train/engine.py, train/stages.py), at any depth:
    metrics.jsonl  a stage: {"step", "split": "train" | "test", "loss", "accuracy", "perplexity"?, "lr"?,
                   "alphas"?: [[K floats] per block]} per line
    result.json    beside it: the stage's final {"test": {...}, "alphas"?: [[...]]}
    sweep.json     a sweep: {"points": [{"alphas": [[a, 1-a] per block], "test": {...}}], "num_blocks": L}
and, at the run directory's root only,
    results.json   {"task", "metric", "entries": [{"model", "seed", "test": {...}}]}: each component
                   fine-tuned with the hybrid's budget, and the hybrid, over seeds.

What it writes: report.md with a table of stages, loss curves, α trajectories, the sweep's loss landscape
(a line for one block or a grid shared by all blocks, a heatmap for two) under the search's path through α,
and the comparison table (mean ± std over seeds, Welch's t-test of the hybrid against each component).
Only a metrics.jsonl is required; the report says which other pieces it did not find.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import plots
from .stats import LOWER_IS_BETTER, MIN_SEEDS, SIGNIFICANCE, Summary, welch_test

METRICS = "metrics.jsonl"
RESULT = "result.json"
SWEEP = "sweep.json"
RESULTS = "results.json"
REPORT = "report.md"
HYBRID = "hybrid"  # the `model` name of the hybrid's entries in results.json
METRIC_NAMES = ("loss", "accuracy", "perplexity")
# Stages in the order the workflow runs them (a stage's first path part); any other folder comes after.
WORKFLOW_ORDER = ("components", "pretrain", "pretrain-projectors", "program", "search", "retrain", "discretize",
                  "sweep", "baselines")
TOP_SWEEP_POINTS = 5  # rows of the sweep's best-points table


# -- reading a run directory -----------------------------------------------------------------------------
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
        """(steps, losses) of the records of one split that have a numeric loss."""
        rows = [r for r in self.split(split) if _number(r.get("loss")) is not None]
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
    def is_search(self) -> bool:
        return any("search" in part for part in Path(self.name).parts)


@dataclass
class Sweep:
    """A sweep.json: n points of fixed α (n, L, K) and their test metrics."""

    name: str
    path: Path
    alphas: np.ndarray
    tests: list[dict[str, Any]]
    num_blocks: int
    dropped: int  # points without α or a numeric test loss

    @property
    def loss(self) -> np.ndarray:
        return np.array([t["loss"] for t in self.tests], dtype=float)

    @property
    def shared(self) -> bool:
        """Whether every point gives all blocks the same α (a 1-D grid, as sweep_grid(per_block=False))."""
        return bool(np.allclose(self.alphas, self.alphas[:, :1], atol=1e-9))


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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


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
        if isinstance(record, dict) and _number(record.get("step")) is not None:
            records.append(record)
        else:
            bad += 1
    return records, bad


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _order(name: str) -> tuple:
    first = Path(name).parts[0] if name != "." else ""
    rank = WORKFLOW_ORDER.index(first) if first in WORKFLOW_ORDER else len(WORKFLOW_ORDER)
    return rank, _natural(name)


def _name(path: Path, run_dir: Path) -> str:
    return path.relative_to(run_dir).as_posix()


def find_stages(run_dir: Path) -> list[Stage]:
    """Every folder under run_dir (itself included) with a metrics.jsonl, in workflow order."""
    stages = []
    for metrics in run_dir.rglob(METRICS):
        problems: list[str] = []
        records, bad = read_metrics(metrics)
        if bad:
            problems.append(f"{bad} line(s) of `{METRICS}` are not JSON records and were skipped")
        if not records:
            problems.append(f"`{METRICS}` has no records yet")
        result_path = metrics.parent / RESULT
        result = _read_json(result_path, problems) if result_path.exists() else None
        stages.append(Stage(_name(metrics.parent, run_dir), metrics.parent, records,
                            result if isinstance(result, dict) else None, problems,
                            read_trajectory(records, problems)))
    return sorted(stages, key=lambda s: _order(s.name))


def read_sweep(path: Path, run_dir: Path, problems: list[str]) -> Sweep | None:
    """A sweep.json's usable points (α and a numeric test loss), or None (with a note) if it has none."""
    name = _name(path.parent, run_dir)
    data = _read_json(path, problems)
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list):
        problems.append(f"sweep `{name}`: `{SWEEP}` has no list of `points`")
        return None
    kept = [p for p in points if isinstance(p, dict) and p.get("alphas") and isinstance(p.get("test"), dict)
            and _number(p["test"].get("loss")) is not None]
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
    return Sweep(name, path.parent, alphas, [p["test"] for p in kept], alphas.shape[1], len(points) - len(kept))


def component_names(dirs: list[Path]) -> list[str] | None:
    """The hybrid's component families from a saved hybrid config (stage/model or stage/initial), if any."""
    for directory in dirs:
        for sub in ("model", "initial", "."):
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


# -- formatting ----------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 4) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if math.isnan(number) or math.isinf(number) or abs(number) >= 1e4:
        return f"{number:.{digits}g}"
    return f"{number:.{digits}f}"


def fmt_p(p: float) -> str:
    return f"{p:.4g}" if p >= 1e-4 else f"{p:.3e}"


def fmt_alphas(alphas: Any) -> str:
    """[[0.7, 0.3], [0.3, 0.7]] -> "[0.70 0.30] [0.30 0.70]"; "—" for None or anything else."""
    try:
        return " ".join("[" + " ".join(f"{float(a):.2f}" for a in row) + "]" for row in alphas)
    except (TypeError, ValueError):
        return "—"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def better(metric: str) -> str:
    return "lower is better" if LOWER_IS_BETTER.get(metric, True) else "higher is better"


class _Files:
    """PNG names in the run directory, one per (kind, stage), made safe and unique."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.used = run_dir, set()

    def __call__(self, kind: str, name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.]+", "-", "run" if name == "." else name).strip("-.") or "run"
        filename, n = f"{kind}-{slug}.png", 1
        while filename in self.used:
            n += 1
            filename = f"{kind}-{slug}-{n}.png"
        self.used.add(filename)
        return self.run_dir / filename


def _image(path: Path, alt: str) -> str:
    return f"![{alt}]({path.name})"


# -- the report's sections -------------------------------------------------------------------------------------
def stages_section(stages: list[Stage], missing: list[str]) -> list[str]:
    rows = []
    for stage in stages:
        test = stage.final_test() or {}
        train = stage.split("train")
        steps = max((r["step"] for r in stage.records), default=None)
        rows.append([f"`{stage.name}`", fmt(steps, 0) if steps is not None else "—",
                     fmt(train[-1].get("loss")) if train else "—",
                     *(fmt(test.get(m)) for m in METRIC_NAMES), fmt_alphas(stage.final_alphas())])
        if not test:
            missing.append(f"stage `{stage.name}` has no test evaluation (no `{RESULT}`, no test records)")
        elif stage.result is None:
            missing.append(f"stage `{stage.name}` has no `{RESULT}` (unfinished?); its test metrics are the last "
                           f"test record of `{METRICS}`")
        missing.extend(f"stage `{stage.name}`: {problem}" for problem in stage.problems)
    return ["## Stages", "",
            "Final metrics of each stage (test: lower loss and perplexity are better, higher accuracy is better). "
            "α: the mixture weights at the end, one [α_0 … α_K-1] per block.", "",
            *table(["stage", "steps", "final train loss", "test loss", "test accuracy", "test perplexity", "final α"],
                   rows), ""]


def loss_section(stages: list[Stage], files: _Files) -> list[str]:
    lines = ["## Loss curves", "", "Train loss at each logged step, test loss at each evaluation (lower is better).", ""]
    for stage in stages:
        (train_steps, train_loss), (test_steps, test_loss) = stage.curve("train"), stage.curve("test")
        if not len(train_steps) and not len(test_steps):
            lines += [f"- `{stage.name}`: no losses logged yet.", ""]
            continue
        path = plots.plot_loss_curves(files("loss", stage.name), f"{stage.name}: loss", train_steps, train_loss,
                                      test_steps, test_loss)
        lines += [f"### `{stage.name}`", "", _image(path, f"loss curves of {stage.name}"), ""]
    return lines


def _component_labels(names: list[str] | None, num_components: int) -> list[str]:
    """The components' families when a saved hybrid config names them (and K matches), else "component k"."""
    return list(names) if names and len(names) == num_components else [f"component {k}" for k in range(num_components)]


def _alpha_labels(names: list[str] | None, num_components: int) -> list[str]:
    return [f"α_{k} ({name})" for k, name in enumerate(_component_labels(names, num_components))]


def alpha_section(stages: list[Stage], names: list[str] | None, files: _Files, missing: list[str]) -> list[str]:
    lines = ["## Mixture weights (α)", "",
             "α^(l) = softmax(a^(l)) mixes the components in Manticore block l (blocks numbered from 1); "
             "α_k is component k's weight.", ""]
    fixed, found = [], False
    for stage in stages:
        trajectory = stage.alphas()
        if trajectory is None:
            continue
        found = True
        steps, alphas = trajectory
        stage_names = component_names([stage.path]) or names
        labels = _alpha_labels(stage_names, alphas.shape[2])
        if np.ptp(alphas, axis=0).max() <= 1e-9:
            fixed.append(f"- `{stage.name}`: α fixed at {fmt_alphas(alphas[0])}")
            continue
        path = plots.plot_alpha_trajectory(files("alphas", stage.name), f"{stage.name}: mixture weights", steps,
                                           alphas, labels)
        final = alphas[-1]
        families = _component_labels(stage_names, alphas.shape[2])
        winners = ", ".join(f"block {l + 1} → {families[int(np.argmax(row))]}" for l, row in enumerate(final))
        lines += [f"### `{stage.name}`", "", _image(path, f"α trajectory of {stage.name}"), "",
                  f"Final α: {fmt_alphas(final)}; discretized (argmax per block): {winners}.", ""]
    if fixed:
        lines += ["Stages with α held fixed (not plotted):", "", *fixed, ""]
    if not found:
        missing.append("no stage logged mixture weights (`alphas`), so there are no α trajectories")
        lines += ["No stage logged mixture weights.", ""]
    return lines


def _sweep_plot(sweep: Sweep, searches: list[Stage], labels: list[str], files: _Files,
                notes: list[str]) -> Path | None:
    """The sweep's landscape with every search path of matching shape; None (with a note) if it can't be drawn."""
    alpha0 = sweep.alphas[:, :, 0]  # (n, L)
    title = f"{sweep.name}: test loss over fixed α"
    if sweep.num_blocks == 1 or sweep.shared:
        trajectories = [plots.Trajectory(f"search `{s.name}`", *_alpha0(s)) for s in searches]
        xlabel = labels[0] + (" in every block" if sweep.num_blocks > 1 else "")
        return plots.plot_sweep_line(files("sweep", sweep.name), title, alpha0[:, 0], sweep.loss, xlabel,
                                     trajectories)
    if sweep.num_blocks == 2:
        trajectories = []
        for search in searches:
            steps, path = _alpha0(search)
            if path.shape[1] == 2:
                trajectories.append(plots.Trajectory(f"search `{search.name}`", steps, path))
            else:
                notes.append(f"search `{search.name}` has L={path.shape[1]} blocks, the sweep L=2: path not drawn")
        axes = (f"block 1: {labels[0]}", f"block 2: {labels[0]}")
        return plots.plot_sweep_heatmap(files("sweep", sweep.name), title, alpha0[:, 0], alpha0[:, 1], sweep.loss,
                                        axes, trajectories)
    notes.append(f"a per-block sweep over L={sweep.num_blocks} blocks has no 2-D picture; its best points are listed")
    return None


def _alpha0(stage: Stage) -> tuple[np.ndarray, np.ndarray]:
    steps, alphas = stage.alphas()
    return steps, alphas[:, :, 0]


def sweep_section(sweeps: list[Sweep], stages: list[Stage], names: list[str] | None, files: _Files,
                  missing: list[str]) -> list[str]:
    lines = ["## Architecture-loss landscape (sweep)", ""]
    if not sweeps:
        missing.append(f"no `{SWEEP}`, so no loss landscape")
        return lines + [f"No sweep (`{SWEEP}`) in this run.", ""]
    searches = [s for s in stages if s.is_search and s.alphas() is not None]
    if not searches:
        missing.append("no search stage (a folder named `*search*` that logged α), so no search path on the sweep")
    for sweep in sweeps:
        notes: list[str] = []
        labels = _alpha_labels(component_names([sweep.path]) or names, sweep.alphas.shape[2])
        kind = ("one block" if sweep.num_blocks == 1 else f"one α shared by all {sweep.num_blocks} blocks"
                if sweep.shared else f"a per-block grid over {sweep.num_blocks} blocks")
        lines += [f"### `{sweep.name}`", "",
                  f"{len(sweep.tests)} points of fixed α ({kind}); test loss, lower is better."
                  + (f" {sweep.dropped} point(s) without α or a test loss were skipped." if sweep.dropped else ""), ""]
        path = _sweep_plot(sweep, searches, labels, files, notes)
        if path is not None:
            lines += [_image(path, f"loss landscape of {sweep.name}"), ""]
        order = np.argsort(sweep.loss, kind="stable")[:TOP_SWEEP_POINTS]
        has_accuracy = any(_number(t.get("accuracy")) is not None for t in sweep.tests)
        header = ["rank", "α_0 per block", "test loss"] + (["test accuracy"] if has_accuracy else [])
        rows = [[str(rank + 1), "(" + ", ".join(f"{a:.2f}" for a in sweep.alphas[i, :, 0]) + ")",
                 fmt(sweep.tests[i]["loss"])] + ([fmt(sweep.tests[i].get("accuracy"))] if has_accuracy else [])
                for rank, i in enumerate(order)]
        lines += [f"Lowest test losses ({labels[0]} per block):", "", *table(header, rows), ""]
        for search in searches:
            end = _alpha0(search)[1][-1]
            lines.append(f"- search `{search.name}` ended at α_0 = ({', '.join(f'{a:.2f}' for a in end)}).")
        lines += [f"- {note}" for note in notes] + [""]
    return lines


def _verdict(metric: str, hybrid: list[float], other: list[float], model: str) -> list[str]:
    """Cells: hybrid − component, t, df, p, verdict."""
    difference = float(np.mean(hybrid) - np.mean(other))
    test = welch_test(hybrid, other)
    if test is None:
        return [fmt(difference), "—", "—", "—",
                f"n too small (hybrid n={len(hybrid)}, {model} n={len(other)}; needs ≥ {MIN_SEEDS} seeds each)"]
    if test.significant and difference != 0:
        hybrid_wins = (difference < 0) == LOWER_IS_BETTER[metric]
        verdict = f"significant: {HYBRID if hybrid_wins else model} better"
    else:
        verdict = "not significant"
    return [fmt(difference), f"{test.t:.3f}", f"{test.df:.2f}", fmt_p(test.p), verdict]


def comparison_section(run_dir: Path, missing: list[str]) -> list[str]:
    lines = ["## Components against the hybrid", ""]
    path = run_dir / RESULTS
    if not path.exists():
        missing.append(f"no `{RESULTS}` at the run directory's root, so no comparison of the hybrid and its components")
        return lines + [f"No `{RESULTS}` in this run directory.", ""]
    problems: list[str] = []
    data = _read_json(path, problems)
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        missing.extend(problems or [f"`{RESULTS}` has no list of `entries`"])
        return lines + [f"`{RESULTS}` could not be used (see above).", ""]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("model"), str) and isinstance(entry.get("test"), dict):
            by_model.setdefault(entry["model"], []).append(entry)
        else:
            problems.append(f"`{RESULTS}`: skipped an entry without `model` and `test`: {json.dumps(entry)[:120]}")
    missing.extend(problems)
    if HYBRID in by_model:  # the hybrid's row first
        by_model = {HYBRID: by_model.pop(HYBRID), **by_model}
    metrics = [m for m in METRIC_NAMES if any(_number(e["test"].get(m)) is not None for es in by_model.values()
                                              for e in es)]
    if not by_model or not metrics:
        missing.append(f"`{RESULTS}` has no entries with test loss, accuracy or perplexity")
        return lines + ["No usable entries.", ""]

    def values(model: str, metric: str) -> list[float]:
        return [float(e["test"][metric]) for e in by_model[model] if _number(e["test"].get(metric)) is not None]

    primary = data.get("metric", "loss")
    lines += [f"Task: `{data.get('task', '?')}`; primary metric: **{primary}** ({better(primary)}). "
              "Each component was fine-tuned with the same budget as the hybrid. Cells are the mean ± sample "
              "standard deviation over seeds (n seeds); "
              + "; ".join(f"{m}: {better(m)}" for m in metrics) + ".", ""]
    rows = []
    for model in by_model:
        cells = []
        for metric in metrics:
            vals = values(model, metric)
            summary = Summary.of(vals) if vals else None
            cells.append("—" if summary is None else fmt(summary.mean) if summary.n < MIN_SEEDS
                         else f"{fmt(summary.mean)} ± {fmt(summary.std)}")
        seeds = sorted({e.get("seed") for e in by_model[model] if e.get("seed") is not None}, key=str)
        rows.append([f"**{model}**" if model == HYBRID else model, str(len(by_model[model])),
                     ", ".join(map(str, seeds)) or "—", *cells])
    lines += table(["model", "n", "seeds", *(f"test {m} ({better(m)})" for m in metrics)], rows) + [""]

    if HYBRID not in by_model:
        missing.append(f"`{RESULTS}` has no entry with model \"{HYBRID}\", so nothing to test the components against")
        return lines
    if len(by_model) == 1:
        missing.append(f"`{RESULTS}` has entries of the hybrid only, so no component to test it against")
        return lines
    lines += ["### Significance", "",
              f"Welch's t-test (two-sided, unequal variances) of the hybrid against each component, significant at "
              f"p < {SIGNIFICANCE}; it needs at least {MIN_SEEDS} seeds on each side. \"hybrid − component\" is the "
              f"difference of the means: negative favours the hybrid on loss and perplexity, positive on accuracy.",
              ""]
    rows, summary_lines = [], []
    for model in by_model:
        if model == HYBRID:
            continue
        for metric in metrics:
            hybrid, other = values(HYBRID, metric), values(model, metric)
            if not hybrid or not other:
                continue
            cells = _verdict(metric, hybrid, other, model)
            rows.append([model, f"{metric} ({better(metric)})", fmt(np.mean(hybrid)), fmt(np.mean(other)), *cells])
            if metric == primary:
                p = f", p = {cells[3]}" if cells[3] != "—" else ""
                summary_lines.append(f"- hybrid vs **{model}** on {metric}: {cells[4]}{p}.")
    lines += table(["component", "metric", "hybrid mean", "component mean", "hybrid − component", "Welch t", "df", "p",
                    "verdict"], rows) + [""]
    if summary_lines:
        lines += [f"On the primary metric ({primary}):", "", *summary_lines, ""]
    return lines


# -- the report -------------------------------------------------------------------------------------------------
def write_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report.md and its PNGs from every stage found under run_dir; returns report.md's path.

    Raises ValueError if run_dir is not a directory or holds no metrics.jsonl at any depth.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"Run directory {str(run_dir)!r} does not exist or is not a directory.")
    stages = find_stages(run_dir)
    if not stages:
        raise ValueError(f"No stage found in {str(run_dir)!r}: looked for `{METRICS}` files (written by every "
                         f"training stage) in it and every folder below it, and found none.")
    missing: list[str] = []
    sweeps = [s for p in sorted(run_dir.rglob(SWEEP), key=lambda p: _order(_name(p.parent, run_dir)))
              if (s := read_sweep(p, run_dir, missing)) is not None]
    names = component_names([s.path for s in stages])
    files = _Files(run_dir)
    sections = [
        stages_section(stages, missing),
        comparison_section(run_dir, missing),
        sweep_section(sweeps, stages, names, files, missing),
        alpha_section(stages, names, files, missing),
        loss_section(stages, files),
    ]
    head = [f"# Manticore run report: `{run_dir.resolve().name}`", "",
            f"Run directory: `{run_dir}`. {len(stages)} stage(s), {len(sweeps)} sweep(s), "
            f"{'a' if (run_dir / RESULTS).exists() else 'no'} `{RESULTS}`.", ""]
    glance = [line for line in sections[1] if line.startswith("- hybrid vs ")]
    if glance:  # whether the hybrid beat its components, before anything else
        head += ["## At a glance", "", *glance, ""]
    if missing:
        head += ["## Not in this report", "", *(f"- {m}" for m in missing), ""]
    report = run_dir / REPORT
    report.write_text("\n".join(head + [line for section in sections for line in section]).rstrip() + "\n")
    return report
