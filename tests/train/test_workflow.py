"""Run configs and the stage runners: shipped configs load, bad configs fail early, a tiny run completes."""

import json

import pytest
import torch
import yaml

import manticore
from manticore.cli import main
from manticore.workflow.run_config import CONFIGS, load_run_config


@pytest.mark.parametrize("path", sorted(set(CONFIGS.glob("*.yaml")) - {CONFIGS / "experiments.yaml"}),
                         ids=lambda p: p.name)  # experiments.yaml is the experiment list (test_experiments.py)
def test_every_shipped_config_loads(path):
    config = load_run_config(path)
    assert config.components and config.run
    for stage in config.run:
        config.stage_settings(stage)


def write(tmp_path, values):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize("values,match", [
    ({"nmu_blocks": 2}, r"Unknown field\(s\) \['nmu_blocks'\]"),
    ({"train": {"max_step": 3}}, r"Unknown field\(s\) \['max_step'\] in train;"),
    ({"train": {"max_steps": "ten"}}, "max_steps='ten'"),
    ({"stages": {"serach": {}}}, "unknown stage 'serach'"),
    ({"search": {"algorithm": "evolution"}}, "search.algorithm"),
    ({"run": ["retrain", "polish"]}, "unknown stage 'polish'"),
    ({"components": [{"name": "x", "config": {"hidden_size": 8}}]}, "model_type"),
    ({"head": "regression"}, "head='regression'"),
])
def test_bad_configs_name_the_field(tmp_path, values, match):
    with pytest.raises(ValueError, match=match):
        load_run_config(write(tmp_path, values))


def test_missing_config_file():
    with pytest.raises(ValueError, match="does not exist"):
        load_run_config("no/such/run.yaml")


def test_overrides_parse_yaml_values(tmp_path):
    config = load_run_config(CONFIGS / "quickstart.yaml", ["train.max_steps=3", "stages.search.search.algorithm=gaea",
                                                          f"out_dir={tmp_path}"])
    assert config.stage_settings("search").train.max_steps == 3
    assert config.stage_settings("search").search.algorithm == "gaea"
    assert config.out_dir == str(tmp_path)


def test_impossible_num_blocks_fails_before_training(tmp_path, capsys):
    code = main(["search", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(tmp_path),
                 "--set", "num_blocks=3"])
    assert code == 2
    assert "num_blocks=3 must divide every component's depth" in capsys.readouterr().err
    assert not (tmp_path / "search" / "metrics.jsonl").exists()


def test_a_tiny_run_end_to_end(tmp_path):
    """pretrain -> pretrain-projectors -> search -> retrain -> baselines -> program -> sweep -> report."""
    overrides = ["train.max_steps=2", "train.eval_batches=1", "stages.baselines.seeds=[0]",
                 "stages.program.method=metadata", "stages.sweep.grid_step=1.0", "stages.sweep.fine_tune=false",
                 "run=[pretrain, pretrain-projectors, search, retrain, baselines, discretize, program, sweep, report]"]
    args = ["run", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(tmp_path)]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    searched = json.loads((tmp_path / "search" / "result.json").read_text())["alphas"]
    retrained = manticore.ManticoreForCausalLM.from_pretrained(tmp_path / "retrain" / "model")
    assert torch.allclose(retrained.mixture_weights(), torch.tensor(searched), atol=1e-6)
    results = json.loads((tmp_path / "results.json").read_text())
    assert sorted(e["model"] for e in results["entries"]) == ["gpt_neo", "hybrid", "mamba", "programmed-metadata"]
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert len(sweep["points"]) == 4  # α_0 in {0, 1} per block, L = 2
    discretized = json.loads((tmp_path / "discretize" / "discretize.json").read_text())
    assert discretized["parameters_after"] < discretized["parameters_before"]
    assert (tmp_path / "report.md").exists()
    assert "Components against the hybrid" in (tmp_path / "report.md").read_text()
    # every trained model's directory carries its task's tokenizer, so `pipeline` loads it as it is
    from transformers import AutoTokenizer, pipeline

    model_dir = tmp_path / "pretrain" / "gpt_neo" / "model"
    assert AutoTokenizer.from_pretrained(model_dir)("héllo")["input_ids"] == list("héllo".encode())
    generator = pipeline("text-generation", model=str(model_dir), device="cpu")
    out = generator("To be", max_new_tokens=4, do_sample=False)[0]["generated_text"]
    assert out.startswith("To be")
    # --resume on a finished run trains nothing again: every log stays as it was, results.json keeps its entries
    logs = {path: path.read_text() for path in tmp_path.rglob("metrics.jsonl")}
    assert main(args + ["--resume"]) == 0
    assert {path: path.read_text() for path in tmp_path.rglob("metrics.jsonl")} == logs
    assert json.loads((tmp_path / "results.json").read_text())["entries"] == results["entries"]


def test_pretrained_components_are_reused_with_the_same_settings(tmp_path, capsys):
    args = ["pretrain", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(tmp_path),
            "--set", "stages.pretrain.train.max_steps=1", "--set", "train.eval_batches=1"]
    assert main(args) == 0
    stamp = (tmp_path / "pretrain" / "gpt_neo" / "model" / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "Reusing the pretrained gpt_neo" in capsys.readouterr().out
    assert (tmp_path / "pretrain" / "gpt_neo" / "model" / "model.safetensors").stat().st_mtime_ns == stamp
    assert main(args[:-4] + ["--set", "stages.pretrain.train.max_steps=2", "--set", "train.eval_batches=1"]) == 0
    assert (tmp_path / "pretrain" / "gpt_neo" / "model" / "model.safetensors").stat().st_mtime_ns != stamp


@pytest.mark.parametrize("override,match", [
    ("stages.search.grid_step=0.5", r"Unknown field\(s\) \['grid_step'\] in stages.search"),
    ("stages.program.method=bogus", r"method='bogus' is not valid in stages.program; accepted: 'metadata' or 'proxy'"),
    ("stages.baselines.seeds=notalist", r"seeds='notalist' is not valid in stages.baselines; accepted: a list of integers"),
    ("stages.sweep.per_block=maybe", r"per_block='maybe' is not valid in stages.sweep; accepted: true or false"),
    ("stages.sweep.grid_step=0.3", r"grid_step=0.3 is not valid; accepted: a number in \(0, 1\] that divides 1"),
    ("stages.program.proxy_train.lr=fast", r"lr='fast' is not valid in stages.program.proxy_train"),
    ("stages.search.search.updates=sometimes", r"updates='sometimes' is not valid"),
    ("stages.retrain.task={name: mad/in-context-recal}", r"stages.retrain.task: Unknown task 'mad/in-context-recal'"),
    ("task.seq_length=64", r"task: Task 'mad/selective-copying' got unknown setting\(s\) \['seq_length'\]"),
    ("stages.eval=3", r"stages.eval must be a mapping"),
])
def test_bad_stage_settings_are_refused_at_load_with_the_field_named(override, match):
    with pytest.raises(ValueError, match=match):
        load_run_config(CONFIGS / "quickstart.yaml", [override])


def test_stage_settings_inherit_the_run_defaults():
    config = load_run_config(CONFIGS / "quickstart.yaml", [
        "seed=7", "train.lr=0.5", "stages.retrain.train.max_steps=9", "stages.baselines.train.batch_size=4"])
    baselines = config.stage_settings("baselines")
    assert (baselines.train.lr, baselines.train.max_steps, baselines.train.batch_size, baselines.train.seed) == \
        (0.5, 9, 4, 7)  # run < retrain's train < its own
    assert config.stage_settings("sweep").train.max_steps == 400  # quickstart's run-wide train
    program = config.stage_settings("program")
    assert program.proxy_train.lr == 0.5 and program.search.algorithm == "darts"


def test_a_bad_value_fails_before_any_work(tmp_path, capsys):
    code = main(["run", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(tmp_path),
                 "--set", "stages.sweep.per_block=maybe"])
    assert code == 2
    assert "per_block='maybe'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # not even the first stage ran
