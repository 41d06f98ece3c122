"""`write_report` on synthetic run directories: tables, significance verdicts, plots, missing pieces, errors."""

import json
import math
import re

import numpy as np
import pytest
from matplotlib.image import imread

from manticore.report import write_report
from manticore.report.stats import Summary, welch_test

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Welch's test of these two samples, by hand: t = -2.5 / sqrt(1.6667/4 + 2.5/5) = -2.61116,
# df = 0.91667^2 / (0.41667^2/3 + 0.5^2/4) = 6.98077, two-sided p = 0.0349388 (t-distribution tail,
# checked by numerical integration of the density). Shifting and scaling both samples alike changes nothing.
HYBRID_LOSS = [2.1, 2.2, 2.3, 2.4]
GPT_NEO_LOSS = [2.3, 2.4, 2.5, 2.6, 2.7]
KNOWN_T, KNOWN_DF, KNOWN_P = -2.61116, 6.98077, 0.0349388
MAMBA_LOSS = [2.22, 2.31, 2.18, 2.40]  # close to the hybrid's: not significant
HYBRID_ACC = [0.40, 0.41, 0.42, 0.43]
MAMBA_ACC = [0.60, 0.61, 0.62, 0.63]  # clearly better than the hybrid's


# -- building fake runs ------------------------------------------------------------------------------------------
def write_stage(stage_dir, steps=10, alphas=None, result=True, lm=True, eval_every=5, kind=None, task=None):
    """A stage's metrics.jsonl (and result.json); alphas: (steps, L, K) array or a fixed [[...]] or None.
    kind and task go into result.json when given (older runs' results have neither)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for step in range(1, steps + 1):
        loss = 3.0 * math.exp(-step / steps) + 1.0
        record = {"step": step, "split": "train", "loss": loss, "accuracy": 0.1 + 0.02 * step, "lr": 1e-3}
        if lm:
            record["perplexity"] = math.exp(loss)
        if alphas is not None:
            record["alphas"] = np.asarray(alphas)[step - 1].tolist() if np.ndim(alphas) == 3 else alphas
        lines.append(record)
        if step % eval_every == 0:
            lines.append({"step": step, "split": "test", "loss": loss + 0.1, "accuracy": 0.1 + 0.02 * step})
    (stage_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    if result:
        out = {"test": {"loss": lines[-1]["loss"], "accuracy": lines[-1]["accuracy"]}}
        if alphas is not None:
            out["alphas"] = lines[-2]["alphas"]
        out.update({key: value for key, value in (("kind", kind), ("task", task)) if value is not None})
        (stage_dir / "result.json").write_text(json.dumps(out))


def search_path(steps, num_blocks):
    """α (steps, L, 2) moving from uniform towards (0.7, 0.3) in block 1 and (0.3, 0.7) in block 2."""
    targets = [0.7, 0.3][:num_blocks]
    frac = np.linspace(0, 1, steps)[:, None]
    a0 = 0.5 + frac * (np.array(targets) - 0.5)
    return np.stack([a0, 1 - a0], axis=-1)


def write_sweep(sweep_dir, num_blocks, shared=False, step=0.1, task=None):
    """sweep.json over α_0 in {0, 0.1, ..., 1}: per-block product grid, or one α shared by all blocks."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    values = np.round(np.arange(0, 1 + 1e-9, step), 6)
    best = [0.7, 0.3]
    if shared or num_blocks == 1:
        grid = [[v] * num_blocks for v in values]
    else:
        grid = [[a, b] for a in values for b in values]
    points = [{"alphas": [[a, round(1 - a, 6)] for a in a0],
               "test": {"loss": 2.0 + sum((a - t) ** 2 for a, t in zip(a0, best)), "accuracy": 0.5}}
              for a0 in grid]
    sweep = {"kind": "sweep", "task": task} if task is not None else {}
    (sweep_dir / "sweep.json").write_text(json.dumps({**sweep, "points": points, "num_blocks": num_blocks}))


def write_results(run_dir, with_hybrid=True):
    entries = []
    models = {"gpt_neo": (GPT_NEO_LOSS, [0.3] * 5), "mamba": (MAMBA_LOSS, MAMBA_ACC), "gpt2": ([2.9], [0.2])}
    if with_hybrid:
        models = {"hybrid": (HYBRID_LOSS, HYBRID_ACC), **models}
    for model, (losses, accs) in models.items():
        for seed, (loss, acc) in enumerate(zip(losses, accs)):
            entries.append({"model": model, "seed": seed,
                            "test": {"loss": loss, "accuracy": acc, "perplexity": math.exp(loss)}})
    (run_dir / "results.json").write_text(json.dumps({"task": "ptb", "metric": "loss", "entries": entries}))


def write_hybrid_config(stage_dir, adapters=("gpt_neo", "mamba")):
    (stage_dir / "model").mkdir(parents=True, exist_ok=True)
    (stage_dir / "model" / "config.json").write_text(json.dumps({"model_type": "manticore", "adapters": adapters}))


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """The report of a run with every piece: projector pretraining, search (L=2), retrain, a per-block sweep,
    components, baselines and results.json."""
    run = tmp_path_factory.mktemp("full") / "run"
    write_stage(run / "pretrain-projectors", alphas=search_path(10, 2)[::-1])
    write_stage(run / "search", steps=20, alphas=search_path(20, 2))
    write_hybrid_config(run / "search")
    write_stage(run / "retrain", alphas=[[0.7, 0.3], [0.3, 0.7]])
    write_sweep(run / "sweep", num_blocks=2)
    for name in ("gpt_neo", "mamba"):
        write_stage(run / "components" / name)
        for seed in range(2):
            write_stage(run / "baselines" / name / f"seed{seed}", steps=4)
    write_results(run)
    return write_report(run)


def read_row(text, *first_cells):
    """The cells of the Markdown table row that starts with first_cells."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[:len(first_cells)] == list(first_cells):
            return cells
    raise AssertionError(f"no table row starting with {first_cells}")


def check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5000, f"{path} is suspiciously small ({len(data)} bytes)"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200


def images(report):
    return [report.parent / name for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text())]


# -- statistics ------------------------------------------------------------------------------------------------
def test_welch_test_matches_known_value():
    test = welch_test(HYBRID_LOSS, GPT_NEO_LOSS)
    assert test.t == pytest.approx(KNOWN_T, abs=1e-4)
    assert test.df == pytest.approx(KNOWN_DF, abs=1e-4)
    assert test.p == pytest.approx(KNOWN_P, rel=1e-4)
    assert test.significant
    assert welch_test([1.0, 2.0, 3.0], [1.5]) is None  # n too small
    assert welch_test([1.0, 1.0], [1.0, 1.0]).p == 1.0  # no spread, no difference


def test_summary_uses_sample_std():
    summary = Summary.of(HYBRID_LOSS)
    assert (summary.mean, summary.n) == (pytest.approx(2.25), 4)
    assert summary.std == pytest.approx(math.sqrt(1 / 60), rel=1e-9)  # var of 2.1..2.4 with ddof=1
    assert math.isnan(Summary.of([2.0]).std)


# -- the full report ---------------------------------------------------------------------------------------------
def test_full_run_tables_and_verdicts(full_report):
    assert full_report.name == "report.md"
    text = full_report.read_text()

    # Means ± sample stds, n and direction of every metric.
    hybrid = read_row(text, "**hybrid**")
    assert hybrid[1] == "4" and hybrid[3] == "2.2500 ± 0.1291" and hybrid[4] == "0.4150 ± 0.0129"
    gpt_neo = read_row(text, "gpt_neo", "5")
    assert gpt_neo[3] == "2.5000 ± 0.1581"
    assert read_row(text, "gpt2", "1")[3] == "2.9000"  # one seed: no std
    assert "lower is better" in text and "higher is better" in text

    # Significance: known p, both directions, not significant, n too small.
    row = read_row(text, "gpt_neo", "loss (lower is better)")
    assert float(row[-4]) == pytest.approx(KNOWN_T, abs=1e-3)
    assert float(row[-2]) == pytest.approx(KNOWN_P, abs=5e-6)
    assert float(row[4]) == pytest.approx(-0.25)  # hybrid − component
    assert row[-1] == "significant: hybrid better"
    assert read_row(text, "mamba", "loss (lower is better)")[-1] == "not significant"
    assert read_row(text, "mamba", "accuracy (higher is better)")[-1] == "significant: mamba better"
    assert read_row(text, "gpt2", "loss (lower is better)")[-1].startswith("n too small")
    assert "hybrid vs **gpt_neo** on loss: significant: hybrid better, p = 0.03494" in text

    # Stages, α, sweep.
    for stage in ("pretrain-projectors", "search", "retrain", "components/gpt_neo", "baselines/mamba/seed1"):
        assert f"`{stage}`" in text
    assert "block 1 → gpt_neo, block 2 → mamba" in text  # argmax of the searched α
    assert "`retrain`: α fixed at [0.70 0.30] [0.30 0.70]" in text
    assert read_row(text, "1", "(0.70, 0.30)")[2] == "2.0000"  # the sweep's best point
    assert "search `search` ended at α_0 = (0.70, 0.30)" in text


def test_full_run_writes_valid_pngs(full_report):
    pngs = images(full_report)
    names = {p.name for p in pngs}
    assert {"headline-comparison.png", "sweep-sweep.png", "alphas-search.png", "alphas-pretrain-projectors.png",
            "loss-search.png", "loss-baselines-gpt_neo.png"} <= names
    assert not any("seed" in name for name in names if name.startswith("loss-"))  # seeds share one figure
    assert "### `baselines/gpt_neo/*` (2 runs)" in full_report.read_text()
    assert "alphas-retrain.png" not in names  # fixed α: listed, not plotted
    for path in pngs:
        check_png(path)


@pytest.mark.parametrize("num_blocks, shared", [(1, False), (2, True)])
def test_one_dimensional_sweep_is_a_line_with_the_search_path(tmp_path, num_blocks, shared):
    run = tmp_path / "run"
    write_stage(run / "search", steps=15, alphas=search_path(15, num_blocks))
    write_sweep(run / "sweep", num_blocks=num_blocks, shared=shared)
    text = write_report(run).read_text()
    check_png(run / "sweep-sweep.png")
    assert ("one block" if num_blocks == 1 else "one α shared by all 2 blocks") in text
    assert "search `search` ended at α_0" in text
    assert "no search stage" not in text


# -- missing pieces and errors ---------------------------------------------------------------------------------------
def test_a_single_stage_reports_what_is_missing(tmp_path):
    stage = tmp_path / "only"
    write_stage(stage, result=False, lm=False)
    with open(stage / "metrics.jsonl", "a") as f:
        f.write('{"step": 11, "split": "tra')  # cut off mid-write
    text = write_report(tmp_path).read_text()
    assert "## Not in this report" in text
    assert "no `results.json`" in text and "no `sweep.json`" in text
    assert "no stage logged mixture weights" in text
    assert "stage `only` has no `result.json`" in text
    assert "1 line(s) of `metrics.jsonl` are not JSON records" in text
    assert read_row(text, "`only`")[3] == "2.2036"  # last test record: loss at step 10 + 0.1
    check_png(tmp_path / "loss-only.png")


def test_run_dir_that_is_itself_a_stage(tmp_path):
    write_stage(tmp_path, steps=3, eval_every=3)
    report = write_report(tmp_path)
    assert "`.`" in report.read_text()
    check_png(tmp_path / "loss-run.png")


def test_results_without_a_hybrid_still_tabulate(tmp_path):
    write_stage(tmp_path / "retrain")
    write_results(tmp_path, with_hybrid=False)
    text = write_report(tmp_path).read_text()
    assert read_row(text, "gpt_neo", "5")[3] == "2.5000 ± 0.1581"
    assert 'no entry with model "hybrid"' in text
    assert "### Significance" not in text


def test_no_metrics_anywhere_is_an_error(tmp_path):
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "result.json").write_text("{}")
    with pytest.raises(ValueError, match=r"metrics\.jsonl") as error:
        write_report(tmp_path)
    assert str(tmp_path) in str(error.value)
    with pytest.raises(ValueError, match="does not exist"):
        write_report(tmp_path / "nowhere")


def test_the_verdict_comes_first(tmp_path):
    stage = tmp_path / "retrain"
    stage.mkdir()
    (stage / "metrics.jsonl").write_text(json.dumps({"step": 1, "split": "test", "loss": 1.0}) + "\n")
    entries = [{"model": m, "seed": s, "test": {"loss": base + 0.01 * s}}
               for m, base in (("hybrid", 1.0), ("gpt_neo", 2.0)) for s in range(3)]
    (tmp_path / "results.json").write_text(json.dumps({"task": "t", "metric": "loss", "entries": entries}))
    text = write_report(tmp_path).read_text()
    glance = text.index("## At a glance")
    assert glance < text.index("## Stages")
    assert "hybrid vs **gpt_neo** on loss: significant: hybrid better" in text[glance:text.index("## Stages")]


# -- what a stage is: facts in its files, not its folder's name ------------------------------------------------------
@pytest.fixture
def drawn_paths(monkeypatch):
    """The labels of the search paths drawn on each 1-D sweep landscape, by the PNG they went to."""
    from manticore.report import plots

    drawn, plot = {}, plots.plot_sweep_line

    def spy(path, *args, **kwargs):
        trajectories = kwargs.get("trajectories", args[4] if len(args) > 4 else ())
        drawn[path.name] = [t.label for t in trajectories]
        return plot(path, *args, **kwargs)

    monkeypatch.setattr(plots, "plot_sweep_line", spy)
    return drawn


def test_a_search_is_what_its_result_says_not_its_folder_name(tmp_path, drawn_paths):
    # Kind "search" with α that never moved: still a search. Kind "retrain" in a folder named search: not one,
    # even with α that moved.
    write_stage(tmp_path / "explore", alphas=[[0.6, 0.4]], kind="search")
    write_stage(tmp_path / "search", alphas=[[0.6, 0.4]], kind="retrain")
    write_stage(tmp_path / "search-retrain", alphas=search_path(10, 1), kind="retrain")
    write_sweep(tmp_path / "sweep", num_blocks=1)
    text = write_report(tmp_path).read_text()
    assert drawn_paths["sweep-sweep.png"] == ["search `explore`"]
    assert "search `explore` ended at α_0 = (0.60)" in text
    assert "search `search` ended" not in text and "search `search-retrain` ended" not in text
    assert "no search stage" not in text


def test_results_without_a_kind_fall_back_to_whether_alpha_moved(tmp_path, drawn_paths):
    write_stage(tmp_path / "explore", alphas=search_path(10, 1))  # α moved: a search, whatever its name
    write_stage(tmp_path / "search", alphas=[[0.6, 0.4]])  # α held fixed: not a search, despite its name
    write_sweep(tmp_path / "sweep", num_blocks=1)
    text = write_report(tmp_path).read_text()
    assert drawn_paths["sweep-sweep.png"] == ["search `explore`"]
    assert "search `search` ended" not in text


def test_no_search_at_all_is_reported_missing(tmp_path, drawn_paths):
    write_stage(tmp_path / "search", alphas=[[0.6, 0.4]], kind="retrain")
    write_sweep(tmp_path / "sweep", num_blocks=1)
    text = write_report(tmp_path).read_text()
    assert drawn_paths["sweep-sweep.png"] == []
    assert "no search stage" in text


def test_only_searches_on_the_sweeps_task_are_drawn_on_it(tmp_path, drawn_paths):
    write_stage(tmp_path / "search", alphas=search_path(10, 1), kind="search", task="ptb")
    write_stage(tmp_path / "program" / "proxy", alphas=search_path(10, 1)[::-1], kind="search", task="mad-recall")
    write_stage(tmp_path / "search-old", alphas=search_path(10, 1))  # an older run: no task, so drawn
    write_sweep(tmp_path / "sweep", num_blocks=1, task="ptb")
    write_sweep(tmp_path / "sweep-untasked", num_blocks=1)  # no task: every search is drawn
    text = write_report(tmp_path).read_text()
    assert drawn_paths["sweep-sweep.png"] == ["search `search`", "search `search-old`"]
    assert set(drawn_paths["sweep-sweep-untasked.png"]) == {"search `search`", "search `search-old`",
                                                           "search `program/proxy`"}
    sweep = text[text.index("### `sweep`"):text.index("### `sweep-untasked`")]
    assert "search `program/proxy` ran on task `mad-recall`, the sweep on `ptb`: path not drawn" in sweep
    assert "search `program/proxy` ended" not in sweep


def test_stages_follow_the_stage_registry(tmp_path):
    from manticore.workflow import stages

    for name in ("zz-extra", "retrain", "baselines/gpt_neo/seed10", "baselines/gpt_neo/seed2", "search", "pretrain"):
        write_stage(tmp_path / name, steps=2, eval_every=2)
    text = write_report(tmp_path).read_text()
    order = re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)
    assert order == ["pretrain", "search", "retrain", "baselines/gpt_neo/seed2", "baselines/gpt_neo/seed10",
                     "zz-extra"]
    known = [name.split("/")[0] for name in order[:-1]]
    assert [stages.names().index(name) for name in known] == sorted(stages.names().index(name) for name in known)


# -- verdicts as data, rendered twice --------------------------------------------------------------------------------
def test_verdicts_are_data(tmp_path):
    from manticore.report.results import read_comparison

    write_results(tmp_path)
    comparison = read_comparison(tmp_path / "results.json")
    verdicts = {(v.model, v.metric): v for v in comparison.verdicts}
    assert verdicts["gpt_neo", "loss"].winner == "hybrid"
    assert verdicts["gpt_neo", "loss"].test.p == pytest.approx(KNOWN_P, rel=1e-4)
    assert verdicts["mamba", "loss"].winner is None
    assert verdicts["mamba", "accuracy"].winner == "mamba"
    assert verdicts["gpt2", "loss"].test is None  # one seed
    assert [(v.model, v.metric) for v in comparison.primary_verdicts()] == [
        ("gpt_neo", "loss"), ("mamba", "loss"), ("gpt2", "loss")]
    assert read_comparison(tmp_path / "nowhere.json").verdicts == []


def test_at_a_glance_lists_every_primary_verdict(full_report):
    mamba_p = welch_test(HYBRID_LOSS, MAMBA_LOSS).p
    text = full_report.read_text()
    glance = text[text.index("## At a glance"):]
    glance = glance[:glance.index("\n## ")]  # up to the next section
    listed = [line for line in glance.splitlines() if line.startswith("- ")]
    section = text[text.index("On the primary metric (loss):"):]
    assert listed == [line for line in section.splitlines() if line.startswith("- hybrid vs ")]
    assert listed == ["- hybrid vs **gpt_neo** on loss: significant: hybrid better, p = 0.03494.",
                      f"- hybrid vs **mamba** on loss: not significant, p = {mamba_p:.4g}.",
                      "- hybrid vs **gpt2** on loss: n too small (hybrid n=4, gpt2 n=1; needs ≥ 2 seeds each)."]


def test_no_verdicts_no_glance(tmp_path):
    write_stage(tmp_path / "retrain")
    write_results(tmp_path, with_hybrid=False)
    assert "## At a glance" not in write_report(tmp_path).read_text()


# -- chance levels: a model that did not learn is inconclusive, never evidence ------------------------------------------
def test_models_at_chance_make_their_verdicts_inconclusive(tmp_path):
    from manticore.report.results import read_comparison

    write_results(tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    results["chance"] = {"loss": 2.5, "accuracy": 0.38, "macro_accuracy": 0.1}  # the hybrid's 0.415 is within 0.05
    (tmp_path / "results.json").write_text(json.dumps(results))
    comparison = read_comparison(tmp_path / "results.json")
    assert comparison.learned("hybrid") is False and comparison.learned("mamba") is True
    verdicts = {(v.model, v.metric): v for v in comparison.verdicts}
    assert verdicts["gpt_neo", "loss"].test.p == pytest.approx(KNOWN_P, rel=1e-4)  # significant, but void:
    assert verdicts["gpt_neo", "loss"].winner is None
    assert verdicts["gpt_neo", "loss"].outcome == "inconclusive: hybrid and gpt_neo did not beat chance"
    assert verdicts["mamba", "accuracy"].outcome == "inconclusive: hybrid did not beat chance"
    write_stage(tmp_path / "baselines" / "hybrid" / "seed0")
    text = write_report(tmp_path).read_text()
    assert "| *chance* | — | — | 2.5000 | 0.3800 | — | — |" in text  # no perplexity: not a rate
    assert "| **hybrid** | 4 | 0, 1, 2, 3 |" in text and "**no**: inconclusive |" in text


def test_without_a_chance_level_nothing_is_judged_against_it(tmp_path):
    from manticore.report.results import read_comparison

    write_results(tmp_path)
    comparison = read_comparison(tmp_path / "results.json")
    assert comparison.learned("hybrid") is None
    assert any("no chance level" in note for note in comparison.notes)
    assert {v.outcome for v in comparison.verdicts} >= {"significant: hybrid better", "significant: mamba better"}


def tables(text):
    """Every Markdown table of a report: (header, rows as {column: cell}); each row must fill its header."""
    lines, found = text.splitlines(), []
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.fullmatch(r"\|(---\|)+", lines[i + 1]):
            split = lambda row: [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]  # noqa: E731
            header, rows = split(line), []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                cells = split(row)
                assert len(cells) == len(header), f"{header} vs {cells}"
                rows.append(dict(zip(header, cells)))
            found.append((header, rows))
    return found


def test_every_table_of_the_report_reads_back_by_its_header(full_report):
    found = tables(full_report.read_text())
    assert len(found) >= 4
    stages = next(rows for header, rows in found if header[0] == "stage")
    search = next(row for row in stages if row["stage"] == "`search`")
    result = json.loads((full_report.parent / "search" / "result.json").read_text())
    assert search["steps"] == "20" and search["test loss"] == f"{result['test']['loss']:.4f}"
    assert search["test accuracy"] == f"{result['test']['accuracy']:.4f}"
    assert search["test macro accuracy"] == search["test perplexity"] == "—"  # not in this result
    assert search["final α"].startswith("[") and search["final α"].count("[") == 2  # one per block


def test_a_table_row_that_does_not_fill_the_header_is_an_error():
    from manticore.report.markdown import table

    assert table(["a", "b"], [["1", "x|y"]]) == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    with pytest.raises(ValueError, match=r"Table row 0 has 3 cells for 2 columns"):
        table(["a", "b"], [["1", "2", "3"]])


def test_the_sweep_says_whether_its_best_point_beats_the_search(full_report):
    text = full_report.read_text()
    retrain = json.loads((full_report.parent / "retrain" / "result.json").read_text())["test"]["loss"]
    assert f"The grid's best point, α_0 = (0.70, 0.30), reaches 2.0000; the searched hybrid reaches {retrain:.4f} " \
           "(`retrain`). **The grid's best point beats the search**" in text
    assert "so the corners and the components need not agree" in text


def test_the_report_opens_with_the_comparison_and_ends_with_the_details(full_report):
    headings = [line for line in full_report.read_text().splitlines() if line.startswith("## ")]
    body = [h for h in headings if h not in ("## At a glance", "## Not in this report")]
    assert body[0] == "## Components against the hybrid" and body[-2:] == ["## Stages", "## Loss curves"]
    text = full_report.read_text()
    assert text.index("headline-comparison.png") < text.index("| model | n | seeds |")  # the figure, then the table


def test_every_table_of_a_real_tiny_runs_report_reads_back_by_its_header(tmp_path):
    """A real run (the quickstart config at 2 steps: pretraining, projectors, search, retraining, a sweep and
    baselines over 2 seeds): every table of every section has a cell under each header, and the numbers read
    back are the run's own."""
    from manticore.workflow.run_config import CONFIGS, load_run_config
    from manticore.workflow.stages import run_workflow

    cfg = load_run_config(CONFIGS / "quickstart.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.eval_batches=1", "stages.pretrain.train.max_steps=2",
        "stages.pretrain-projectors.train.max_steps=2", "stages.sweep.grid_step=0.5",
        "run=[pretrain, pretrain-projectors, search, retrain, sweep, baselines, report]"])
    results = run_workflow(cfg)
    text = (tmp_path / "report.md").read_text()
    found = tables(text)
    headers = [header[0] for header, _ in found]
    assert {"model", "component", "rank", "stage"} <= set(headers)  # comparison, significance, sweep, stages
    stages = {row["stage"]: row for row in next(rows for header, rows in found if header[0] == "stage")}
    retrain = results["retrain"]["test"]
    assert stages["`retrain`"]["test loss"] == f"{retrain['loss']:.4f}"
    assert stages["`retrain`"]["test accuracy"] == f"{retrain['accuracy']:.4f}"
    models = {row["model"]: row for row in next(rows for header, rows in found if header[0] == "model")}
    assert {"**hybrid**", "gpt_neo", "mamba", "*chance*"} <= set(models) and models["**hybrid**"]["n"] == "2"
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    best = min(p["test"]["loss"] for p in sweep["points"])
    ranks = next(rows for header, rows in found if header[0] == "rank")
    assert ranks[0]["test loss"] == f"{best:.4f}"
    for image_path in images(tmp_path / "report.md"):
        check_png(image_path)


def test_searches_of_one_kind_share_an_alpha_figure_and_a_table(tmp_path):
    run = tmp_path / "run"
    write_stage(run / "search", steps=10, alphas=search_path(10, 2))
    for seed in range(3):
        write_stage(run / "baselines" / "hybrid" / f"seed{seed}" / "search", steps=10, alphas=search_path(10, 2))
    text = write_report(run).read_text()
    assert "### `baselines/hybrid/*/search` (3 runs)" in text and "### `search`" in text
    assert (run / "alphas-baselines-hybrid-search.png").exists()
    check_png(run / "alphas-baselines-hybrid-search.png")
    grouped = next(rows for header, rows in tables(text) if header == ["run", "final α", "argmax per block"])
    assert [row["run"] for row in grouped] == ["`seed0`", "`seed1`", "`seed2`"]
    assert grouped[0]["argmax per block"].startswith("block 1 → ")
