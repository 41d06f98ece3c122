"""Stage functions: programming (metadata, proxy), the sweep grid, scaled proxy configs, rewinding."""

import json

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import SearchConfig, TrainConfig
from manticore.workflow.stages import program, retrain, search, sweep
from conftest import tiny_config


def neo_mamba(max_positions=64):
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", max_positions=max_positions), tiny_config("mamba")], num_blocks=2)


def test_program_metadata_zeroes_components_that_cannot_take_the_length():
    hybrid = neo_mamba(max_positions=64)
    hybrid.set_mixture_weights([[0.5, 0.5], [0.8, 0.2]])
    assert program.program_metadata(hybrid, 128) == [[0.0, 1.0], [0.0, 1.0]]
    kept = program.program_metadata(hybrid, 64)
    assert torch.allclose(torch.tensor(kept), torch.tensor([[0.5, 0.5], [0.8, 0.2]]), atol=1e-6)
    hybrid.set_mixture_weights(program.program_metadata(hybrid, 128))
    assert hybrid(torch.randint(0, 61, (1, 128))).logits.shape == (1, 128, 61)  # runs past GPT-Neo's limit


def test_program_metadata_with_no_usable_component():
    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components([tiny_config("gpt2", max_positions=32)])
    with pytest.raises(ValueError, match="No component can take sequences of length 100"):
        program.program_metadata(hybrid, 100)


def test_sweep_grid():
    assert sweep.sweep_grid(1, 2, 0.5) == [[[0.0, 1.0]], [[0.5, 0.5]], [[1.0, 0.0]]]
    assert len(sweep.sweep_grid(2, 2, 0.1)) == 121  # the paper's 2-D landscape
    assert len(sweep.sweep_grid(2, 2, 0.1, per_block=False)) == 11
    with pytest.raises(ValueError, match="K=2"):
        sweep.sweep_grid(2, 3)


def test_program_proxy_averages_the_alphas_found_on_each_task(tmp_path):
    hybrid = neo_mamba()
    proxy_tasks = [tasks.get(name, num_train=32, num_test=16, seq_len=48, vocab_size=16)
                   for name in ("mad/in-context-recall", "mad/selective-copying")]
    train = TrainConfig(max_steps=3, batch_size=8, lr=1e-3, arch_lr=0.1)
    average, found = program.program_proxy(hybrid, proxy_tasks, train, SearchConfig(), tmp_path, width=16,
                                           must_learn=False)
    assert list(found) == [t.name for t in proxy_tasks]
    for task in proxy_tasks:  # each proxy's final test metrics and its task's chance level, beside its α
        assert set(found[task.name]["test"]) >= {"loss", "accuracy"}
        assert found[task.name]["chance"] == task.chance
    per_task = torch.tensor([f["alphas"] for f in found.values()])
    assert torch.allclose(torch.tensor(average), per_task.mean(0), atol=1e-6)
    assert torch.allclose(torch.tensor(average).sum(-1), torch.ones(2), atol=1e-6)
    assert not torch.allclose(per_task[0], torch.full((2, 2), 0.5))  # the search moved α


def test_proxies_that_learned_nothing_are_not_averaged(tmp_path):
    proxy_tasks = [tasks.get("mad/in-context-recall", num_train=16, num_test=16, seq_len=32, vocab_size=16)]
    train = TrainConfig(max_steps=2, batch_size=8, lr=1e-3, arch_lr=0.1)  # far too short to beat chance
    with pytest.raises(ValueError, match="No proxy beat its task's chance level .*proxy_must_learn: false"):
        program.program_proxy(neo_mamba(), proxy_tasks, train, SearchConfig(), tmp_path, width=16)


def test_retrain_rewinds_to_the_initial_weights(tmp_path):
    task = tasks.get("mad/in-context-recall", num_train=32, num_test=16, seq_len=32, vocab_size=16)
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=16), tiny_config("mamba", vocab=16)], num_blocks=2)
    train = TrainConfig(max_steps=3, batch_size=8, lr=1e-2, arch_lr=0.1)
    initial = {k: v.clone() for k, v in hybrid.state_dict().items()}
    result = search.search(hybrid, task, train, SearchConfig(), tmp_path / "search")
    rewound, _ = retrain.retrain(tmp_path / "search" / "initial", result["alphas"], task,
                                TrainConfig(max_steps=1, batch_size=8, lr=0.0), tmp_path / "retrain")
    for name, value in rewound.state_dict().items():
        if "mixture" not in name:
            assert torch.equal(value, initial[name]), name  # lr=0: the weights are the pre-search ones
    assert torch.allclose(rewound.mixture_weights(), torch.tensor(result["alphas"]), atol=1e-6)
    assert not rewound.architecture_parameters()[0].requires_grad


def test_baselines_repeat_the_search_per_seed_and_train_fixed_layouts(tmp_path):
    from manticore.workflow.run_config import CONFIGS, load_run_config
    from manticore.workflow.stages import run_stage

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=3", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "stages.baselines.seeds=[0, 1]", "stages.baselines.layouts={stripe: [gpt_neo, mamba]}",
        # the searched mixture as the result, not a committed layout retrained (what c2-striped itself does now)
        "search.commit_at=null", "stages.baselines.retrain=false", "stages.search.train={max_steps: 3}"])
    run_stage(cfg, "baselines")
    entries = json.loads((tmp_path / "results.json").read_text())["entries"]
    assert [(e["model"], e["seed"]) for e in entries] == [
        (m, s) for s in (0, 1) for m in ("gpt_neo", "mamba", "stripe", "hybrid")]
    by = {(e["model"], e["seed"]): e for e in entries}
    assert by["stripe", 0]["alphas"] == [[1.0, 0.0], [0.0, 1.0]]
    assert by["hybrid", 0]["alphas"] != by["hybrid", 1]["alphas"]  # each seed searched anew
    assert (tmp_path / "baselines" / "hybrid" / "seed1" / "search" / "initial").is_dir()
    assert not (tmp_path / "baselines" / "hybrid" / "seed1" / "model").exists()  # retrain: false
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["chance"]["accuracy"] > 0


@pytest.mark.parametrize("layout,match", [(["gpt_neo"], "names 1 components; accepted: one per"),
                                          (["gpt_neo", "llama"], r"unknown component\(s\) \['llama'\]")])
def test_a_bad_layout_names_what_is_accepted(tmp_path, layout, match):
    from manticore.workflow.run_config import CONFIGS, load_run_config
    from manticore.workflow.stages import run_stage

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [f"out_dir={tmp_path}", "task.num_train=8", "task.num_test=4",
                                                         f"stages.baselines.layouts={{bad: {layout}}}"])
    with pytest.raises(ValueError, match=match):
        run_stage(cfg, "baselines")


def test_retrain_false_needs_search():
    from manticore.workflow.run_config import CONFIGS, load_run_config

    with pytest.raises(ValueError, match="retrain=False"):
        load_run_config(CONFIGS / "c2-mad.yaml", ["stages.baselines.search=false"])
