"""The `manticore` command: demo, build, inspect, every stage's --help, and start-up without torch."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import typing

import pytest
import torch

import manticore
from manticore.cli import main, parse_weights
from manticore.workflow.run_config import CONFIGS
from manticore.settings import _yaml, default_of, field_docs
from manticore.workflow.stages import STAGES, names as stage_names
from conftest import tiny_component


def test_demo_runs_the_workflow(tmp_path, capsys):
    """configs/demo.yaml at a few steps: every stage runs and the summary is printed."""
    settings = ["train.max_steps=2", "train.eval_batches=1", "stages.pretrain.train.max_steps=2",
                "stages.pretrain-projectors.train.max_steps=2", "stages.baselines.seeds=[0]",
                "task.num_prompts=12", "task.max_new_tokens=4", "train.batch_size=4",
                "stages.pretrain.train.batch_size=4", "stages.pretrain-projectors.train.batch_size=4"]
    args = ["demo", "--out", str(tmp_path / "demo")]
    for item in settings:
        args += ["--set", item]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "K=2 components, L=2 Manticore blocks" in out
    assert re.search(r"hybrid\s+\d+\.\d+ ± 0\.0000\s+\(n=1\)", out)
    assert "Discretized:" in out
    assert (tmp_path / "demo" / "report.md").exists()


def test_build_then_inspect(tmp_path, capsys):
    tiny_component("gpt_neox", depth=2, seed=1).save_pretrained(tmp_path / "a")
    tiny_component("mamba", depth=4, seed=2).save_pretrained(tmp_path / "b")
    code = main(["build", str(tmp_path / "a"), str(tmp_path / "b"), "--num-blocks", "2", "--embeddings-from", "1",
                 "--weights", "1,0;0.3,0.7", "--out", str(tmp_path / "hybrid")])
    assert code == 0
    model = manticore.ManticoreForCausalLM.from_pretrained(tmp_path / "hybrid")
    assert torch.allclose(model.mixture_weights(), torch.tensor([[1.0, 0.0], [0.3, 0.7]]), atol=1e-6)
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "hybrid")]) == 0
    assert "gpt_neox" in capsys.readouterr().out


def test_build_saves_a_components_tokenizer_so_pipeline_works(tmp_path, capsys):
    from transformers import pipeline

    from manticore.testing import save_word_tokenizer

    tiny_component("gpt_neo", vocab=16, seed=1).save_pretrained(tmp_path / "a")
    save_word_tokenizer(tmp_path / "a", ["to be or not to be that is the question"])
    tiny_component("mamba", vocab=16, seed=2).save_pretrained(tmp_path / "b")
    assert main(["build", str(tmp_path / "b"), str(tmp_path / "a"), "--out", str(tmp_path / "hybrid")]) == 0
    assert f"Saved to {tmp_path / 'hybrid'}, with the tokenizer of {tmp_path / 'a'}" in capsys.readouterr().out
    generate = pipeline("text-generation", model=str(tmp_path / "hybrid"), trust_remote_code=True)
    text = generate("to be", max_new_tokens=3, do_sample=False)[0]["generated_text"]
    assert text.startswith("to be")
    assert main(["build", str(tmp_path / "b"), "--out", str(tmp_path / "bare")]) == 0
    assert "without a tokenizer (no component has one; pass --tokenizer)" in capsys.readouterr().out


def test_build_error_is_reported_not_raised(tmp_path, capsys):
    tiny_component("gpt_neo", depth=2).save_pretrained(tmp_path / "a")
    assert main(["build", str(tmp_path / "a"), "--num-blocks", "3", "--out", str(tmp_path / "x")]) == 2
    assert "num_blocks=3 does not divide" in capsys.readouterr().err


def test_parse_weights():
    assert parse_weights("0.5,0.5") == [0.5, 0.5]
    assert parse_weights("1,0;0.3,0.7") == [[1.0, 0.0], [0.3, 0.7]]
    assert parse_weights("[[1, 0]]") == [[1, 0]]


@pytest.mark.parametrize("name", stage_names())
def test_every_stage_help_lists_its_settings_with_defaults(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    settings = STAGES[name].settings
    for field in dataclasses.fields(settings):
        hint = typing.get_type_hints(settings)[field.name]
        if dataclasses.is_dataclass(hint):
            assert f"{field.name}:   [{hint.__name__}]" in text
            assert all(f"{f.name}: " in text for f in dataclasses.fields(hint))
        else:
            assert re.search(rf"\n\s+{field.name}: {re.escape(_yaml(default_of(field)))}\s", text), field.name
        assert field_docs(settings)[field.name].split()[0] in text  # its docstring
    if any(dataclasses.is_dataclass(h) and h.__name__ == "SearchConfig"
           for h in typing.get_type_hints(settings).values()):
        assert "gumbel: " in text and "temperature: 1.0" in text  # the algorithms and their hyperparameters


def test_the_command_line_loads_without_torch():
    """`manticore --help` and every stage's --help build without importing torch or transformers (start-up)."""
    code = ("import sys; import manticore.cli as cli; parser = cli.build_parser(); "
            "[cli.stage_epilog(s) for s in cli.STAGES.values()] if hasattr(cli, 'STAGES') else None; "
            "print(sorted(m for m in ('torch', 'transformers', 'numba', 'scipy', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_import_manticore_is_cheap_and_still_registers_the_auto_classes(tmp_path):
    torch.manual_seed(0)
    model = manticore.ManticoreForCausalLM.from_components([tiny_component("gpt_neo", depth=2)], num_blocks=1)
    model.save_pretrained(tmp_path / "hybrid")
    first = "import sys, manticore; assert 'torch' not in sys.modules, 'import manticore loaded torch'; "
    load = ("from transformers import AutoModelForCausalLM; "
            f"m = AutoModelForCausalLM.from_pretrained({str(tmp_path / 'hybrid')!r}); print(type(m).__name__)")
    for code in (first + load,  # manticore first, transformers' Auto classes later
                 "from transformers import AutoConfig; import manticore; " + load):  # the other way round
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "ManticoreForCausalLM"


def test_a_stage_runs_without_a_config_when_its_settings_suffice(tmp_path, capsys):
    """`manticore discretize RUN_DIR --set stages.discretize.model=DIR`: the stage, not a second command."""
    torch.manual_seed(0)
    model = manticore.ManticoreForCausalLM.from_components(
        [tiny_component("gpt_neo", depth=2), tiny_component("mamba", depth=2)], num_blocks=2)
    model.set_mixture_weights([[0.9, 0.1], [0.2, 0.8]])
    model.save_pretrained(tmp_path / "hybrid")
    assert main(["discretize", str(tmp_path / "run"), "--set", f"stages.discretize.model={tmp_path / 'hybrid'}"]) == 0
    report = json.loads((tmp_path / "run" / "discretize" / "discretize.json").read_text())
    assert report["kind"] == "discretize" and report["parameters_after"] < report["parameters_before"]
    pruned = manticore.ManticoreForCausalLM.from_pretrained(tmp_path / "run" / "discretize" / "model")
    assert pruned.mixture_weights().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    capsys.readouterr()
    assert main(["discretize", str(tmp_path / "run"), "--set", "stages.discretize.fine_tune=true",
                 "--set", f"stages.discretize.model={tmp_path / 'hybrid'}"]) == 2
    assert "fine_tune=true needs a task" in capsys.readouterr().err


def test_each_stage_ends_with_one_line_and_the_last_names_the_report(tmp_path, capsys):
    out_dir = tmp_path / "q"
    assert main(["run", "--config", str(CONFIGS / "quickstart.yaml"), "--out", str(out_dir),
                 "--set", "train.max_steps=2", "--set", "train.eval_batches=1", "--set", "stages.pretrain.train.max_steps=2",
                 "--set", "run=[pretrain, search, retrain, report]"]) == 0
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if line.strip()]
    metric = r"loss \d+\.\d{4}(, accuracy \d\.\d{4})?"
    for stage, produced in (("pretrain", rf"gpt_neo {metric}; mamba {metric}"), ("search", metric), ("retrain", metric)):
        summary = next(line for line in lines if line.startswith(f"{stage}: "))
        assert re.fullmatch(rf"{stage}: test {produced} -> {re.escape(str(out_dir / stage))}", summary), summary
    assert lines[-1] == f"Report: {out_dir / 'report.md'}"
    assert "Loading weights" not in out.err and "Writing model shards" not in out.err
