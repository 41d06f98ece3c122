"""The `manticore` command: demo, build, inspect."""

import re

import torch

import manticore
from manticore.cli import main, parse_weights
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


def test_build_error_is_reported_not_raised(tmp_path, capsys):
    tiny_component("gpt_neo", depth=2).save_pretrained(tmp_path / "a")
    assert main(["build", str(tmp_path / "a"), "--num-blocks", "3", "--out", str(tmp_path / "x")]) == 2
    assert "num_blocks=3 does not divide" in capsys.readouterr().err


def test_parse_weights():
    assert parse_weights("0.5,0.5") == [0.5, 0.5]
    assert parse_weights("1,0;0.3,0.7") == [[1.0, 0.0], [0.3, 0.7]]
    assert parse_weights("[[1, 0]]") == [[1, 0]]
