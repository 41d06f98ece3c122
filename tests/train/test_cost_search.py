"""Cost-aware search: a large penalty leaves exact zeros that are skipped, a budget is met by the discretized
result as measured, the budget's state resumes exactly, settings are checked when the config loads, and the
pareto stage's pareto.json reads back."""

import json

import pytest
import torch

import manticore
from manticore import tasks
from manticore.components.base import ComponentAdapter
from manticore.hybrid.cost import CostModel
from manticore.settings import build
from manticore.train import Engine, SearchConfig, TrainConfig
from manticore.workflow.run_config import CONFIGS, load_run_config
from manticore.workflow.stages import run_stage

from conftest import tiny_config


@pytest.fixture(scope="module")
def task():
    return tasks.get("mad/in-context-recall", num_train=64, num_test=16, seq_len=32, vocab_size=16, seed=0)


def hybrid(seed=0):
    torch.manual_seed(seed)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=16, max_positions=64), tiny_config("mamba", vocab=16)], num_blocks=2)


def searched(task, out, cost, steps=12, **train):
    model = hybrid()
    search = build(SearchConfig, {"cost": cost}, "search")
    config = TrainConfig(**{"max_steps": steps, "batch_size": 8, "lr": 1e-3, "arch_lr": 0.05, "log_every": 100,
                            **train})
    Engine(model, task, config, out, search=search).train()
    return model


def test_a_large_penalty_leaves_exact_zeros_that_are_skipped(task, tmp_path, monkeypatch):
    model = searched(task, tmp_path, {"measure": "kv_bytes", "weight": 50.0})
    alphas = model.mixture_weights().detach()
    assert alphas[:, 0].tolist() == [0.0, 0.0]  # GPT-Neo, the branch that keeps a KV cache, exactly 0
    assert CostModel.of(model).cost(alphas, "kv_bytes", 4096) == 0.0
    calls = []
    run_blocks = ComponentAdapter.run_blocks
    monkeypatch.setattr(ComponentAdapter, "run_blocks", lambda self, *a, **k: calls.append(self.config.model_type)
                        or run_blocks(self, *a, **k))
    with torch.no_grad():
        model(torch.randint(0, 16, (2, 8)))
    assert calls == ["mamba", "mamba"]
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    costs = [r["cost"] for r in log if r["split"] == "train" and "cost" in r]
    assert costs[0] > 0 and costs[-1] == 0.0 and all(r["cost_weight"] == 50.0 for r in log if "cost_weight" in r)


def test_without_a_cost_nothing_is_pruned(task, tmp_path):
    model = hybrid()
    Engine(model, task, TrainConfig(max_steps=4, batch_size=8, arch_lr=0.05), tmp_path, search=SearchConfig()).train()
    assert (model.mixture_weights() > 0).all()


def test_a_budget_is_met_by_the_discretized_result(tmp_path):
    from manticore.hybrid.build import load_hybrid

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=6", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "search.cost={measure: params, budget: 1.05}"])
    result = run_stage(cfg, "search")
    layout, cost = result["layout"], result["cost"]
    assert cost["measure"] == "params" and cost["budget"] == 1.05 and cost["layout"] <= 1.05
    model = load_hybrid(tmp_path / "search" / "model")
    discretized = model.discretize(choice=layout)
    held = sum(p.numel() for p in discretized.parameters())
    assert held <= 1.05 * cost["unit"]  # measured on the discretized model itself
    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "stages.discretize.fine_tune=true", "stages.discretize.model=" + str(tmp_path / "search" / "model")])
    report = run_stage(cfg, "discretize")
    assert report["choice"] == layout  # a layout of one component rewinds to that component alone
    assert report["rewound_to"] == ("component mamba alone, with its own embedding and head" if layout == [1, 1]
                                    else str(tmp_path / "search" / "initial"))


class Crash(Exception):
    pass


def test_the_budget_multiplier_resumes_exactly(task, tmp_path):
    """A search over budget, killed after step 3 and resumed, ends where the uninterrupted one does."""
    cost = {"measure": "flops", "budget": 1.2, "prune_below": 0.0}
    search = build(SearchConfig, {"cost": cost}, "search")
    config = TrainConfig(max_steps=6, batch_size=8, lr=1e-3, arch_lr=0.05, log_every=100, checkpoint_every=3)
    whole = hybrid()
    Engine(whole, task, config, tmp_path / "whole", search=search).train()

    def crash(step, metrics):
        if step == 4:
            raise Crash

    with pytest.raises(Crash):
        Engine(hybrid(), task, config, tmp_path / "killed", search=search, on_step=crash).train()
    resumed = hybrid(seed=7)  # whatever it starts from, the checkpoint decides
    engine = Engine(resumed, task, config, tmp_path / "killed", search=search)
    engine.train(resume=True)
    assert engine.algorithm.penalty.multiplier > 0
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


@pytest.mark.parametrize("override,match", [
    ("search.cost={measure: latency}", r"measure='latency' is not valid in .*search.cost; accepted: 'params'"),
    ("search.cost={measure: flops}", r"a weight > 0, a budget, or both"),
    ("search.cost={measure: flops, weight: -1}", r"search.cost.weight=-1 is not valid"),
    ("search.cost={budget: 0}", r"search.cost.budget=0 is not valid"),
    ("stages.pareto.budgets=[]", r"stages.pareto.budgets=\[\] is not valid"),
])
def test_cost_settings_are_checked_when_the_config_loads(override, match):
    with pytest.raises(ValueError, match=match):
        load_run_config(CONFIGS / "c2-striped.yaml", [override])


def test_pareto_writes_a_front_that_reads_back(tmp_path):
    from manticore import rundir

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "stages.pareto.budgets=[1.0, 100.0]", "stages.pareto.measure=params", "stages.pareto.seeds=[0, 1]",
        "stages.pareto.decode_tokens=2", "stages.pareto.layouts=true"])
    summary = run_stage(cfg, "pareto")
    front = json.loads((tmp_path / "pareto" / rundir.PARETO).read_text())
    assert front["kind"] == "pareto" and front["components"] == ["gpt_neo", "mamba"] and summary["points"] == 6
    kinds = [p["kind"] for p in front["points"]]
    assert kinds == ["component", "component", "budget", "budget", "layout", "layout"]
    assert [p["name"] for p in front["points"][4:]] == ["gpt_neo+mamba", "mamba+gpt_neo"]
    assert all(p["test"]["loss"]["n"] == 2 for p in front["points"][4:])
    tight, loose = front["points"][2], front["points"][3]
    assert tight["cost"]["relative"] <= 1.0 + 1e-9  # budget 1.0: no dearer than the cheapest component
    assert tight["test"]["loss"]["n"] == 2 and len(tight["test"]["loss"]["values"]) == 2
    assert loose["cost"]["params"] >= tight["cost"]["params"]
    for point in front["points"]:
        assert point["cost"]["decode_tokens_per_s"] > 0 and {"kv_bytes@4096", "kv_bytes@32768"} <= set(point["cost"])


def test_a_discretized_component_trains_exactly_as_its_baseline(tmp_path):
    """Discretized to Mamba in every block and fine-tuned (rewound), the hybrid is Mamba's baseline: same start,
    same budget, same result."""
    overrides = [f"out_dir={tmp_path}", "train.max_steps=3", "train.batch_size=4", "task.num_train=16",
                 "task.num_test=8", "stages.baselines.seeds=[0]", "stages.baselines.layouts={}"]
    cfg = load_run_config(CONFIGS / "c2-striped.yaml", overrides + ["stages.discretize.fine_tune=true",
                                                                   "stages.discretize.layout=[1, 1]"])
    run_stage(cfg, "baselines")
    run_stage(cfg, "search")
    run_stage(cfg, "retrain")
    report = run_stage(cfg, "discretize")
    baseline = next(e for e in json.loads((tmp_path / "results.json").read_text())["entries"] if e["model"] == "mamba")
    assert report["test_after_fine_tuning"]["loss"] == pytest.approx(baseline["test"]["loss"], abs=1e-6)
    assert report["test_after_fine_tuning"]["accuracy"] == baseline["test"]["accuracy"]


def test_a_decode_time_budget_is_met_as_measured(tmp_path):
    """The layout a decode-latency budget picks is timed end to end, discretized, against the components alone."""
    from manticore.workflow.stages.search import searched_cost

    torch.manual_seed(0)
    model = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=16, max_positions=256), tiny_config("mamba", vocab=16)], num_blocks=2)
    model.set_mixture_weights([[0.6, 0.4], [0.3, 0.7]])
    search = build(SearchConfig, {"cost": {"measure": "decode_latency", "budget": 1.1}}, "search")
    found = searched_cost(model, search, tmp_path)
    assert found["cost"]["measured"] <= 1.1 and len(found["layout"]) == 2
    assert json.loads((tmp_path / "cost.json").read_text())["latency"]["decode"]  # profiled once, kept
