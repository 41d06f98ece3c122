"""Fuzzing (issue 11, point 9): random run configs and random data-file bytes either load or fail with one of
the project's named errors (ValueError, FileNotFoundError, manticore.errors.ManticoreError), never with
anything else. 150 examples per test by default (a few seconds); FUZZ_EXAMPLES=1500 for a longer hunt (about 25 s,
clean when written)."""

import math
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manticore import tasks
from manticore.errors import ManticoreError
from manticore.workflow.run_config import load_run_config
from manticore.workflow.run_config import CONFIGS

NAMED = (ValueError, FileNotFoundError, ManticoreError)
BASE = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text())
FIELDS = ["seed", "num_blocks", "out_dir", "task", "components", "run", "train", "search", "stages",
          "train.max_steps", "train.lr", "train.batch_size", "train.clip_grad", "train.eval_batches",
          "train.schedule", "train.precision", "train.resume_override", "search.algorithm", "search.updates",
          "search.bilevel", "search.hyperparameters", "stages.baselines.seeds", "stages.sweep.grid_step",
          "stages.program.method", "task.name", "task.seq_len", "components.0.config.hidden_size",
          "components.0.config.model_type", "components.1.path", "embeddings_from"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from([math.inf, -math.inf, "1e-3", "true", "[]", "darts"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 150))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def set_path(config: dict, path: str, value):
    keys, target = path.split("."), config
    for key in keys[:-1]:
        index = int(key) if key.isdigit() else key
        if isinstance(target, list) and isinstance(index, int) and index < len(target):
            target = target[index]
        elif isinstance(target, dict):
            target = target.setdefault(index, {}) if not isinstance(target.get(index), (dict, list)) else target[index]
        else:
            return
    last = keys[-1]
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        target[int(last)] = value
    elif isinstance(target, dict):
        target[last] = value


@FAST
@given(changes=st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=3))
def test_random_run_configs_load_or_fail_with_a_named_error(changes):
    config = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes:
        set_path(config, path, value)
    with tempfile.TemporaryDirectory() as folder:
        config_file = Path(folder) / "run.yaml"
        config_file.write_text(yaml.safe_dump(config))
        try:
            load_run_config(config_file, [f"out_dir={folder}/run"])
        except NAMED:
            pass


@FAST
@given(text=st.binary(max_size=400))
def test_random_yaml_bytes_load_or_fail_with_a_named_error(text):
    with tempfile.TemporaryDirectory() as folder:
        config_file = Path(folder) / "run.yaml"
        config_file.write_bytes(text)
        try:
            load_run_config(config_file)
        except NAMED:
            pass


@FAST
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt"]),
       task=st.sampled_from(["lra/text", "lm/text"]))
def test_random_data_file_bytes_load_or_fail_with_a_named_error(data, suffix, task):
    if task == "lra/text" and suffix == ".txt":
        suffix = ".csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"train{suffix}"
        path.write_bytes(data)
        try:
            tasks.get(task, path=str(path), use_cache=False)
        except NAMED:
            pass


@FAST
@given(lines=st.lists(st.fixed_dictionaries({"text": st.one_of(st.text(max_size=8), st.integers(), st.none()),
                                             "label": values}), min_size=1, max_size=6))
def test_random_labelled_records_load_or_fail_with_a_named_error(lines):
    import json

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        try:
            tasks.get("lra/text", path=str(path), use_cache=False)
        except NAMED:
            pass
