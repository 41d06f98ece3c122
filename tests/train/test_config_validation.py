"""Config validation is complete (issue 11, point 6): bools are not integers, numbers are finite, strings where
numbers belong are named, duplicate YAML keys are refused, component configs are checked against their
transformers class, out_dir must be creatable, and nothing is written before validation passes."""

import pytest

from manticore.cli import main
from manticore.train import TrainConfig
from manticore.workflow.run_config import load_run_config
from test_workflow import CONFIGS

QUICKSTART = CONFIGS / "quickstart.yaml"


@pytest.mark.parametrize("override,match", [
    ("train.lr=.inf", r"lr=inf is not valid .*accepted: a finite number"),
    ("train.arch_lr=-.inf", r"arch_lr=-inf is not valid"),
    ("train.max_steps=true", r"max_steps=True is not valid .*accepted: an integer"),
    ("train.clip_grad=abc", r"clip_grad='abc' is not valid .*a finite number or null"),
    ("components=[{name: x, config: {model_type: gpt_neo, hidden_size: big}}]",
     r"components\[x\].config.hidden_size='big' is not valid for GPTNeoConfig; accepted: an integer"),
    ("components=[{name: x, config: {model_type: no_such_family}}]", r"components\[x\].config: model_type 'no_such_family'"),
    ("components=[]", r"list at least one component model .*the stages in run \(pretrain, "),
    ("num_blocks=3", r"num_blocks=3 must divide every component's depth; \{'gpt_neo': 2, 'mamba': 2\} don't"),
    ("embeddings_from=7", r"embeddings_from=7 is not valid; accepted: a component index 0..1"),
    ("task.seq_len=-5", r"task: seq_len=-5 is not valid in mad/selective-copying; accepted: an integer >= 10"),
    ("train.strategy=zero3", r"strategy='zero3' is not valid in train; accepted: 'ddp' or 'fsdp'"),
    ("train.max_stepz=5", r"Unknown field\(s\) \['max_stepz'\] in train; accepted: "),
    ("search.algoritm=darts", r"Unknown field\(s\) \['algoritm'\] in search; accepted: "),
    ("stages.search.train.max_stepz=5", r"Unknown field\(s\) \['max_stepz'\] in stages.search.train; accepted: "),
    ("train.report_to=[tensorbord]", r"report_to=\['tensorbord'\] is not valid; accepted: a list of trackers"),
])
def test_bad_values_are_named(override, match):
    with pytest.raises(ValueError, match=match):
        load_run_config(QUICKSTART, [override])


@pytest.mark.parametrize("field,value", [("max_steps", True), ("lr", float("inf")), ("seed", 1.5),
                                         ("clip_grad", "1"), ("eval_batches", True), ("weight_decay", float("nan"))])
def test_train_config_in_python_is_checked_too(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_duplicate_yaml_keys_are_refused(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(QUICKSTART.read_text() + "\nseed: 3\n")  # quickstart already sets seed
    with pytest.raises(ValueError, match="not valid YAML: .*duplicate key 'seed'"):
        load_run_config(path)


def test_out_dir_must_be_creatable(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out_dir .* is a file"):
        load_run_config(QUICKSTART, [f"out_dir={tmp_path / 'file'}"])
    with pytest.raises(ValueError, match="can't be created: .*file is a file"):
        load_run_config(QUICKSTART, [f"out_dir={tmp_path / 'file' / 'run'}"])


def test_nothing_is_written_before_validation(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--config", str(QUICKSTART), "--out", str(out), "--set", "train.lr=.inf"]) == 2
    assert "lr=inf is not valid" in capsys.readouterr().err
    assert not out.exists()
