"""Stages run from a `RunConfig`: where each stage reads its inputs and writes its outputs.

    out_dir/pretrain/<component>/model     components pretrained from scratch (configs only)
    out_dir/pretrain-projectors/model      the pretrained hybrid (causal LM)
    out_dir/search/{initial,model}         the hybrid before and after search; result.json holds α
    out_dir/retrain/model                  searched α frozen, rewound to search/initial, fine-tuned
    out_dir/baselines/<model>/seed<s>      each component alone and the hybrid, same budget, several seeds
    out_dir/program/{alphas.json,model}    programmed α (metadata or proxy), then fine-tuned
    out_dir/sweep/sweep.json               the architecture-loss landscape
    out_dir/discretize/model               the one-hot, pruned hybrid
    out_dir/results.json, report.md        the comparison table and report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from .. import tasks
from ..hybrid.build import load_hybrid
from ..hybrid.model import ManticoreForCausalLM, ManticoreForSequenceClassification
from ..tasks.base import Task
from . import stages
from .engine import is_main
from .config import TrainConfig, from_dict
from .run_config import RunConfig

PROJECTOR_TASK = {"name": "lm/shakespeare"}  # the default general-text corpus


def get_task(cfg: RunConfig, settings: dict[str, Any]) -> Task:
    """tasks.get(name, **settings); `models: components` (lm/completions) means this run's components."""
    settings = dict(settings)
    if settings.get("models") == "components":
        settings["models"] = component_sources(cfg)
    return tasks.get(settings.pop("name"), **settings)


def component_sources(cfg: RunConfig) -> list:
    """Each component as a checkpoint path (given, or pretrained by this run) or a config (random init)."""
    sources = []
    for spec in cfg.components:
        pretrained = cfg.stage_dir("pretrain") / spec.name / "model"
        if spec.path is not None:
            sources.append(spec.path)
        elif pretrained.exists():
            sources.append(str(pretrained))
        else:
            values = dict(spec.config)
            sources.append(AutoConfig.for_model(values.pop("model_type"), **values))
    if not sources:
        raise ValueError("The run config lists no components.")
    return sources


def hybrid_class(cfg: RunConfig, task: Task):
    head = cfg.head if cfg.head != "auto" else ("causal-lm" if task.kind == "lm" else "classification")
    return ManticoreForCausalLM if head == "causal-lm" else ManticoreForSequenceClassification


def build_hybrid(cfg: RunConfig, task: Task, embeddings_from: int | None = None):
    torch.manual_seed(cfg.seed)
    cls = hybrid_class(cfg, task)
    extra = {"num_labels": task.num_labels, "pad_token_id": task.pad_token_id} if task.kind == "classification" else {}
    return cls.from_components(component_sources(cfg), num_blocks=cfg.num_blocks, vocab_size=cfg.vocab_size,
                               embeddings_from=cfg.embeddings_from if embeddings_from is None else embeddings_from,
                               projector_init=cfg.projector_init, **extra)


def initial_hybrid(cfg: RunConfig, task: Task):
    """The hybrid a downstream stage starts from: the pretrained one if this run has it, else a new one."""
    pretrained = cfg.stage_dir("pretrain-projectors") / "model"
    if not pretrained.exists():
        return build_hybrid(cfg, task)
    if hybrid_class(cfg, task) is ManticoreForCausalLM:
        return ManticoreForCausalLM.from_pretrained(pretrained)
    torch.manual_seed(cfg.seed)  # a new classification head on the pretrained hybrid
    return AutoModelForSequenceClassification.from_pretrained(pretrained, num_labels=task.num_labels,
                                                              pad_token_id=task.pad_token_id)


# -- the stages -----------------------------------------------------------------------------------------------
def run_pretrain(cfg: RunConfig, resume: bool = False) -> dict:
    """Pretrain each component given as a config; one already pretrained with the same settings is reused."""
    task_settings = cfg.stage("pretrain").get("task") or PROJECTOR_TASK
    train = cfg.train_config("pretrain")
    task, results = None, {}
    for spec in cfg.components:
        if spec.config is None:
            continue  # given as a checkpoint: already pretrained
        out = cfg.stage_dir("pretrain") / spec.name
        settings = {"config": spec.config, "task": task_settings, "train": train.to_dict()}
        done = out / "result.json"
        if not resume and (out / "model").exists() and done.exists() and \
                json.loads(done.read_text()).get("settings") == settings:
            print(f"Reusing the pretrained {spec.name} in {out} (same config, task and training settings).")
            results[spec.name] = json.loads(done.read_text())
            continue
        task = task or get_task(cfg, task_settings)
        values = dict(spec.config)
        config = AutoConfig.for_model(values.pop("model_type"), **values)
        _, results[spec.name] = stages.pretrain(config, task, train, out, resume)
        if is_main():
            done.write_text(json.dumps({**results[spec.name], "settings": settings}, indent=2))
    return results


def run_pretrain_projectors(cfg: RunConfig, resume: bool = False) -> dict:
    task = get_task(cfg, cfg.stage("pretrain-projectors").get("task") or PROJECTOR_TASK)
    hybrid = build_hybrid(cfg, task) if hybrid_class(cfg, task) is ManticoreForCausalLM else \
        ManticoreForCausalLM.from_components(component_sources(cfg), num_blocks=cfg.num_blocks,
                                             vocab_size=cfg.vocab_size, embeddings_from=cfg.embeddings_from)
    return stages.pretrain_projectors(hybrid, task, cfg.train_config("pretrain-projectors"),
                                      cfg.stage_dir("pretrain-projectors"), resume)


def run_search(cfg: RunConfig, resume: bool = False) -> dict:
    task = get_task(cfg, cfg.task_settings("search"))
    return stages.search(initial_hybrid(cfg, task), task, cfg.train_config("search"), cfg.search_config("search"),
                         cfg.stage_dir("search"), resume)


def searched_alphas(cfg: RunConfig) -> list:
    path = cfg.stage_dir("search") / "result.json"
    if not path.exists():
        raise ValueError(f"No searched mixture weights at {path}: run the search stage first.")
    return json.loads(path.read_text())["alphas"]


def run_retrain(cfg: RunConfig, resume: bool = False) -> dict:
    task = get_task(cfg, cfg.task_settings("retrain"))
    initial = cfg.stage_dir("search") / "initial"
    _, result = stages.retrain(initial, searched_alphas(cfg), task, cfg.train_config("retrain"),
                               cfg.stage_dir("retrain"), resume)
    return result


def run_baselines(cfg: RunConfig, resume: bool = False) -> dict:
    """Each component alone (one-hot hybrid with its own embedding and head) and the searched hybrid,
    fine-tuned with the retrain budget, for every seed; writes out_dir/results.json."""
    task = get_task(cfg, cfg.task_settings("baselines"))
    seeds = cfg.stage("baselines").get("seeds", [cfg.seed])
    train = cfg.train_config("baselines" if "train" in cfg.stage("baselines") else "retrain")
    entries = []
    K = len(cfg.components)
    for seed in seeds:
        train_seed = type(train)(**{**train.to_dict(), "seed": seed})
        for k, spec in enumerate(cfg.components):
            model = build_hybrid(cfg, task, embeddings_from=k)
            one_hot = [[1.0 if j == k else 0.0 for j in range(K)]] * cfg.num_blocks
            _, result = stages.retrain(model, one_hot, task, train_seed,
                                       cfg.stage_dir("baselines") / spec.name / f"seed{seed}")
            entries.append({"model": spec.name, "seed": seed, "test": result["test"]})
        _, result = stages.retrain(cfg.stage_dir("search") / "initial", searched_alphas(cfg), task, train_seed,
                                   cfg.stage_dir("baselines") / "hybrid" / f"seed{seed}")
        entries.append({"model": "hybrid", "seed": seed, "test": result["test"], "alphas": result["alphas"]})
    add_results(cfg, task, entries)
    return {"task": task.name, "metric": "loss", "entries": entries}


def run_program(cfg: RunConfig, resume: bool = False) -> dict:
    """Program α without searching on the task ('metadata' or 'proxy'), then fine-tune with it frozen, for
    every seed; the fine-tuned results join out_dir/results.json as model 'programmed-<method>'."""
    section = cfg.stage("program")
    method = section.get("method", "metadata")
    task = get_task(cfg, cfg.task_settings("program"))
    out = cfg.stage_dir("program")
    if method == "metadata":
        if task.max_length is None:
            raise ValueError(f"Task {task.name!r} does not report its sequence length (max_length), so metadata "
                             "programming has nothing to go on; use method: proxy.")
        alphas = stages.program_metadata(initial_hybrid(cfg, task), task.max_length)
    elif method == "proxy":
        from ..tasks.mad import MAD_TASKS

        names = section.get("proxy_tasks", list(MAD_TASKS))
        proxy_tasks = [tasks.get(n, preset=section.get("proxy_preset", "baseline"), seed=cfg.seed,
                                 num_train=section.get("proxy_num_train", 256), num_test=64) for n in names]
        proxy_train = from_dict(TrainConfig, {"seed": cfg.seed, **cfg.train, **section.get("proxy_train", {})},
                                "stages.program.proxy_train")
        alphas = stages.program_proxy(initial_hybrid(cfg, task), proxy_tasks, proxy_train,
                                      cfg.search_config("program"), out / "proxy", width=section.get("proxy_width", 32))
    else:
        raise ValueError(f"stages.program.method={method!r} is not valid; accepted: metadata, proxy.")
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "alphas.json").write_text(json.dumps({"method": method, "alphas": alphas}, indent=2))
    train = cfg.train_config("program")
    entries = []
    for seed in section.get("seeds", [cfg.seed]):
        seeded = TrainConfig(**{**train.to_dict(), "seed": seed})
        _, result = stages.retrain(initial_hybrid(cfg, task), alphas, task, seeded, out / "finetune" / f"seed{seed}",
                                   resume)
        entries.append({"model": f"programmed-{method}", "seed": seed, "test": result["test"], "alphas": alphas})
    add_results(cfg, task, entries)
    return {"method": method, "alphas": alphas, "entries": entries}


def add_results(cfg: RunConfig, task: Task, entries: list[dict]) -> None:
    """Merge entries into out_dir/results.json, replacing earlier entries of the same models."""
    if not is_main():
        return
    path = Path(cfg.out_dir) / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {"task": task.name, "metric": "loss", "entries": []}
    names = {e["model"] for e in entries}
    results["entries"] = [e for e in results["entries"] if e["model"] not in names] + entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))


def run_sweep(cfg: RunConfig, resume: bool = False) -> dict:
    section = cfg.stage("sweep")
    task = get_task(cfg, cfg.task_settings("sweep"))
    initial = cfg.stage_dir("sweep") / "initial"
    if is_main() and not initial.exists():
        initial_hybrid(cfg, task).save_pretrained(initial)
    grid = stages.sweep_grid(cfg.num_blocks, len(cfg.components), section.get("grid_step", 0.25),
                             section.get("per_block", True))
    points = stages.sweep(initial, task, grid, cfg.train_config("sweep"), cfg.stage_dir("sweep"),
                          section.get("fine_tune", True))
    return {"points": points}


def run_eval(cfg: RunConfig, resume: bool = False) -> dict:
    section = cfg.stage("eval")
    task = get_task(cfg, cfg.task_settings("eval"))
    path = section.get("model") or cfg.stage_dir("retrain") / "model"
    train = cfg.train_config("eval")
    metrics = stages.evaluate(load_hybrid(path), task, train.batch_size, max_batches=train.eval_batches)
    if is_main():
        cfg.stage_dir("eval").mkdir(parents=True, exist_ok=True)
        (cfg.stage_dir("eval") / "result.json").write_text(json.dumps({"model": str(path), "test": metrics}, indent=2))
    return {"test": metrics}


def run_discretize(cfg: RunConfig, resume: bool = False) -> dict:
    """One-hot the (retrained) hybrid's α, drop unused branches, save it and the savings report."""
    from ..hybrid.discretize import discretize

    path = cfg.stage("discretize").get("model") or cfg.stage_dir("retrain") / "model"
    task = get_task(cfg, cfg.task_settings("discretize"))
    example = task.collate([task.test[i] for i in range(min(4, len(task.test)))])["input_ids"]
    model, report = discretize(load_hybrid(path), example_input_ids=example)
    out = cfg.stage_dir("discretize")
    train = cfg.train_config("discretize")
    report["test"] = stages.evaluate(model, task, train.batch_size, max_batches=train.eval_batches)
    if cfg.stage("discretize").get("fine_tune", False):  # recover what dropping the other branches cost
        model, result = stages.retrain(model, model.mixture_weights().detach(), task, train, out / "finetune")
        report["test_after_fine_tuning"] = result["test"]
    if is_main():
        model.save_pretrained(out / "model")
        (out / "discretize.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def run_report(cfg: RunConfig, resume: bool = False) -> dict:
    from ..report import write_report

    return {"report": str(write_report(cfg.out_dir))}


STAGE_FUNCTIONS = {
    "pretrain": run_pretrain,
    "pretrain-projectors": run_pretrain_projectors,
    "search": run_search,
    "retrain": run_retrain,
    "baselines": run_baselines,
    "program": run_program,
    "sweep": run_sweep,
    "eval": run_eval,
    "discretize": run_discretize,
    "report": run_report,
}


def run_stage(cfg: RunConfig, name: str, resume: bool = False) -> dict:
    if name not in STAGE_FUNCTIONS:
        raise ValueError(f"Unknown stage {name!r}; accepted: {', '.join(STAGE_FUNCTIONS)}.")
    return STAGE_FUNCTIONS[name](cfg, resume)
