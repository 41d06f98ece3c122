"""The experiments registry (configs/experiments.yaml), its runner's bookkeeping, and EXPERIMENTS.md's tables."""

import json

import pytest

from manticore.report.experiments import write_experiments
from manticore.workflow.experiments import Experiment, load_experiments, record_path, select
from manticore.workflow.run_config import CONFIGS, load_run_config


def test_every_experiment_variant_is_a_valid_run_config():
    experiments = load_experiments()
    assert {"c1-demo", "c2-mad", "c2-striped", "c2-lra", "c3-proxy", "c3-pathx"} <= set(experiments)
    dirs = []
    for experiment in experiments.values():
        assert experiment.claim and experiment.scaled_down
        for _variant, overrides, run_dir in experiment.runs():
            config = load_run_config(CONFIGS / experiment.config, overrides)  # validates every stage
            assert str(run_dir) == config.out_dir
            dirs.append((experiment.name, run_dir))
    assert len(set(dirs)) == len(dirs)
    mad = {load_run_config(CONFIGS / "c2-mad.yaml", o).task["name"] for _, o, _ in experiments["c2-mad"].runs()}
    assert mad == {"mad/in-context-recall", "mad/fuzzy-in-context-recall", "mad/noisy-in-context-recall",
                   "mad/selective-copying", "mad/memorization"}


def test_select_runs_what_an_experiment_reads_first():
    experiments = load_experiments()
    assert [e.name for e in select(["c3-proxy"], experiments)] == ["c1-demo", "c3-proxy"]
    with pytest.raises(ValueError, match="Unknown experiment.*'c9'.*accepted: c1-demo"):
        select(["c9"], experiments)


def fake_run(run_dir, experiment, variant, chance_accuracy, accuracies):
    """results.json of a hybrid and a component over 3 seeds, and the runner's record."""
    entries = [{"model": model, "seed": seed, "test": {"loss": 1.0 - acc, "accuracy": acc},
                **({"alphas": [[0.25, 0.75]]} if model == "hybrid" else {})}
               for model, accs in accuracies.items() for seed, acc in enumerate(accs)]
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"task": "t", "metric": "loss", "entries": entries,
                                                      "chance": {"loss": 2.0, "accuracy": chance_accuracy}}))
    record_path(run_dir, experiment).write_text(json.dumps(
        {"experiment": experiment, "variant": variant, "wall_s": 60.0, "returncode": 0}))


def test_experiments_md_is_written_from_the_runs(tmp_path):
    experiment = Experiment(name="toy", claim="C2 toy", config="c2-mad.yaml", scaled_down="everything",
                            variants={"easy": ["out_dir=runs/toy/easy"], "hard": ["out_dir=runs/toy/hard"]})
    base = load_run_config(CONFIGS / "c2-mad.yaml").out_dir
    fake_run(tmp_path / base / "easy", "toy", "easy", 0.1, {"hybrid": [0.9, 0.91, 0.92], "mamba": [0.5, 0.52, 0.51]})
    fake_run(tmp_path / base / "hard", "toy", "hard", 0.5, {"hybrid": [0.51, 0.5, 0.52], "mamba": [0.5, 0.5, 0.51]})
    text = write_experiments([experiment], tmp_path / "EXPERIMENTS.md", root=tmp_path).read_text()
    assert "## `toy`: C2 toy" in text and "Scaled down: everything" in text
    assert "Wall time: 2.0 min of runs (easy 60 s, hard 60 s)" in text
    assert "`make experiments` ran 2 runs whose wall times sum to 2 min" in text
    assert json.loads(record_path(tmp_path / base / "easy", "toy").read_text())["wall_s"] == 60.0  # untouched
    rows = [line for line in text.splitlines() if line.startswith("| easy") or line.startswith("| hard")]
    assert rows[0].startswith("| easy | **hybrid** | 3 | 0.0900 ± 0.0100 | 0.9100 ± 0.0100 | (0.25) | yes |")
    assert "| mamba: loss p = " in rows[0] and "hybrid better, accuracy p = " in rows[0]
    assert rows[2] == "| easy | *chance* | — | 2.0000 | 0.1000 | — | — | — |"
    assert rows[3].startswith("| hard | **hybrid** |")
    assert rows[3].endswith("| **no** | mamba: loss inconclusive, accuracy inconclusive |")


def test_an_experiment_not_run_yet_says_so(tmp_path):
    experiment = load_experiments()["c3-pathx"]
    text = write_experiments([experiment], tmp_path / "E.md", root=tmp_path).read_text()
    assert "Not run yet." in text


def test_the_regret_table_compares_the_best_layout_with_the_hybrid(tmp_path):
    experiment = Experiment(name="regret", claim="regret", config="c2-mad.yaml", scaled_down="everything",
                            variants={"recall": ["out_dir=runs/regret/recall"], "flat": ["out_dir=runs/regret/flat"]})
    base = load_run_config(CONFIGS / "c2-mad.yaml").out_dir
    fake_run(tmp_path / base / "recall", "regret", "recall", 0.1,
             {"hybrid": [0.70, 0.72, 0.74], "mamba": [0.5, 0.52, 0.51], "gpt_neo": [0.3, 0.31, 0.32]})
    fake_run(tmp_path / base / "flat", "regret", "flat", 0.6,
             {"hybrid": [0.61, 0.6, 0.62], "mamba": [0.6, 0.6, 0.61], "gpt_neo": [0.6, 0.61, 0.6]})
    results = tmp_path / base / "recall" / "results.json"
    data = json.loads(results.read_text())
    data["entries"] += [{"model": "mamba+gpt_neo", "seed": s, "test": {"loss": 0.01, "accuracy": 0.99},
                         "alphas": [[0.0, 1.0], [1.0, 0.0]]} for s in range(3)]
    data["search_trainings"] = 1.0
    results.write_text(json.dumps(data))
    text = write_experiments([experiment], tmp_path / "EXPERIMENTS.md", root=tmp_path).read_text()
    header = next(line for line in text.splitlines() if line.startswith("| variant | metric | best layout"))
    rows = [line for line in text.splitlines()[text.splitlines().index(header) + 2:] if line.startswith("|")]
    cells = dict(zip([c.strip() for c in header.strip("|").split("|")], [c.strip() for c in rows[0].strip("|").split("|")]))
    assert cells["variant"] == "recall" and cells["metric"] == "accuracy"
    assert cells["best layout"] == "mamba+gpt_neo: 0.9900 ± 0.0000" and cells["hybrid"] == "0.7200 ± 0.0200"
    assert cells["regret"] == "0.2700" and cells["verdict"] == "layout better"
    assert cells["search cost (trainings)"] == "1" and cells["layouts"] == "3"
    by = {(r["variant"], r["metric"]): r for r in (dict(zip(cells, [c.strip() for c in row.strip("|").split("|")]))
                                                    for row in rows)}
    assert by[("recall", "loss")]["best layout"].startswith("mamba+gpt_neo: 0.0100")  # each metric has its row
    assert by[("flat", "accuracy")]["verdict"] == "inconclusive (at chance)"


def test_a_rewrite_keeps_the_results_of_experiments_whose_runs_are_not_on_disk(tmp_path):
    import shutil

    experiment = Experiment(name="toy", claim="C2 toy", config="c2-mad.yaml", scaled_down="everything",
                            variants={"easy": ["out_dir=runs/toy/easy"]})
    base = load_run_config(CONFIGS / "c2-mad.yaml").out_dir
    fake_run(tmp_path / base / "easy", "toy", "easy", 0.1, {"hybrid": [0.9, 0.91, 0.92], "mamba": [0.5, 0.52, 0.51]})
    path = tmp_path / "EXPERIMENTS.md"
    first = write_experiments([experiment], path, root=tmp_path).read_text()
    table = [line for line in first.splitlines() if line.startswith("| easy")]
    assert "Code: `unknown`." in first  # this fake record names no commit
    shutil.rmtree(tmp_path / base)  # another machine: the runs are gone
    second = write_experiments([experiment], path, root=tmp_path).read_text()
    assert "*Kept from the previous EXPERIMENTS.md: these runs are not on this disk (rerun them with " \
           "`manticore experiments toy`).*" in second
    assert [line for line in second.splitlines() if line.startswith("| easy")] == table
    assert "Not run yet." not in second
    assert write_experiments([experiment], path, root=tmp_path).read_text() == second  # kept again, unchanged


def test_a_run_record_names_the_code_it_ran():
    import re

    from manticore.workflow.experiments import code_version

    version = code_version()
    assert version is None or re.fullmatch(r"[0-9a-f]{10}(\+changes)?", version)
