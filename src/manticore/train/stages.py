"""The Manticore workflow's stages (paper, Appendix B.5 and G). Each configures the engine; none has a loop.

    pretrain             train a component model from scratch (our stand-ins for pretrained LMs)
    pretrain_projectors  components frozen; projectors, mixture weights, embedding and head train on text
    search               mixture weights and model train together (DARTS / GAEA / Gumbel-softmax)
    retrain              freeze the searched α, rewind to the pre-search weights, fine-tune
    discretize           α -> its argmax one-hot per block; unused branches are dropped
    program_metadata     α = 0 for components that can't take the task's sequence length
    program_proxy        search a small random copy of the hybrid on MAD tasks, average α
    sweep                train/evaluate with fixed α over a grid (the architecture-loss landscape)

Every stage writes into its `out_dir`: metrics.jsonl, checkpoint.pt, and `model/` (save_pretrained).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from ..hybrid.build import load_hybrid
from ..kernels import use_fast_scan
from ..hybrid.model import ManticorePreTrainedModel
from ..tasks.base import Task
from .config import SearchConfig, TrainConfig
from .engine import Engine, evaluate_model, is_main


def _finish(model: PreTrainedModel, engine: Engine, metrics: dict, out_dir: Path) -> dict[str, Any]:
    """Save the trained model and result.json ({"test": metrics, "alphas": α for hybrids})."""
    result = {"test": metrics}
    if hasattr(model, "mixture_weights"):
        result["alphas"] = model.mixture_weights().detach().tolist()
    if engine.rank == 0:
        model.save_pretrained(out_dir / "model")
        (out_dir / "result.json").write_text(json.dumps(result, indent=2))
    return result


def check_vocab(model: PreTrainedModel, task: Task) -> None:
    vocab = model.get_input_embeddings().num_embeddings
    if vocab < task.vocab_size:
        raise ValueError(f"The model's vocabulary ({vocab}) is smaller than task {task.name!r}'s ({task.vocab_size}); "
                         f"build it with vocab_size >= {task.vocab_size}.")


def pretrain(component: PretrainedConfig | PreTrainedModel, task: Task, train: TrainConfig, out_dir: str | Path,
             resume: bool = False) -> tuple[PreTrainedModel, dict]:
    """Train a component model (a config: from scratch) on a language task; saves it to out_dir/model."""
    if isinstance(component, PretrainedConfig):
        torch.manual_seed(train.seed)
        component = AutoModelForCausalLM.from_config(component)
    use_fast_scan(component)  # Mamba (v1) trains with the fast CPU selective scan; other families unchanged
    check_vocab(component, task)
    engine = Engine(component, task, train, out_dir)
    return component, _finish(component, engine, engine.train(resume), Path(out_dir))


def pretrain_projectors(hybrid: ManticorePreTrainedModel, task: Task, train: TrainConfig, out_dir: str | Path,
                        resume: bool = False) -> dict:
    """Components frozen; projectors, mixture weights, new embedding and head train (paper, B.5)."""
    check_vocab(hybrid, task)
    for p in hybrid.parameters():
        p.requires_grad_(True)
    for p in hybrid.component_parameters():
        p.requires_grad_(False)
    engine = Engine(hybrid, task, train, out_dir)
    result = _finish(hybrid, engine, engine.train(resume), Path(out_dir))
    for p in hybrid.component_parameters():
        p.requires_grad_(True)
    return result


def search(hybrid: ManticorePreTrainedModel, task: Task, train: TrainConfig, search: SearchConfig,
           out_dir: str | Path, resume: bool = False) -> dict:
    """Train α with the model; saves the pre-search weights to out_dir/initial for `retrain` to rewind to."""
    check_vocab(hybrid, task)
    out_dir = Path(out_dir)
    if not resume and is_main():
        hybrid.save_pretrained(out_dir / "initial")
    hybrid.unfreeze_mixture_weights()
    engine = Engine(hybrid, task, train, out_dir, search=search)
    return _finish(hybrid, engine, engine.train(resume), out_dir)


def retrain(initial: str | Path | ManticorePreTrainedModel, alphas, task: Task, train: TrainConfig,
            out_dir: str | Path, resume: bool = False) -> tuple[ManticorePreTrainedModel, dict]:
    """Rewind to `initial` (the pre-search hybrid, or its directory), set and freeze α, fine-tune."""
    hybrid = initial if isinstance(initial, ManticorePreTrainedModel) else load_hybrid(initial)
    check_vocab(hybrid, task)
    hybrid.set_mixture_weights(alphas)
    hybrid.freeze_mixture_weights()
    engine = Engine(hybrid, task, train, out_dir)
    return hybrid, _finish(hybrid, engine, engine.train(resume), Path(out_dir))


def evaluate(model: PreTrainedModel, task: Task, batch_size: int = 16, split: str = "test",
             max_batches: int | None = None) -> dict:
    """Metrics of a model on a task split, without training."""
    check_vocab(model, task)
    return evaluate_model(model, task, split, batch_size, max_batches)


# -- programming -------------------------------------------------------------------------------------------
def program_metadata(hybrid: ManticorePreTrainedModel, sequence_length: int) -> list[list[float]]:
    """α with weight 0 on components whose max positions are below the task's length, the rest renormalised."""
    alphas = hybrid.mixture_weights().detach().clone()
    limits = [c.max_positions for c in hybrid.base_model.components]
    allowed = torch.tensor([limit is None or limit >= sequence_length for limit in limits], dtype=alphas.dtype)
    if not allowed.any():
        raise ValueError(f"No component can take sequences of length {sequence_length} (limits: {limits}).")
    alphas = alphas * allowed
    return (alphas / alphas.sum(-1, keepdim=True)).tolist()


def sweep_grid(num_blocks: int, num_components: int, step: float = 0.1, per_block: bool = True) -> list[list[list[float]]]:
    """Fixed α to evaluate: K=2 gives α_0 in {0, step, ..., 1}; with per_block, the product over blocks."""
    if num_components != 2:
        raise ValueError(f"sweep_grid supports K=2 components (a 1-D grid per block); got K={num_components}.")
    values = [round(i * step, 6) for i in range(int(round(1 / step)) + 1)]
    rows = [[v, round(1 - v, 6)] for v in values]
    if not per_block:
        return [[row] * num_blocks for row in rows]
    return [list(combo) for combo in itertools.product(rows, repeat=num_blocks)]


def sweep(initial: str | Path, task: Task, grid: Sequence, train: TrainConfig, out_dir: str | Path,
          fine_tune: bool = True) -> list[dict]:
    """For every fixed α in `grid`: rewind to `initial`, set and freeze α, fine-tune (or only evaluate).

    Writes out_dir/sweep.json after every point, so a partial sweep is still readable.
    """
    out_dir = Path(out_dir)
    points = []
    for i, alphas in enumerate(grid):
        hybrid = load_hybrid(initial)
        if fine_tune:
            _, result = retrain(hybrid, alphas, task, train, out_dir / f"point-{i:03d}")
            metrics = result["test"]
        else:
            hybrid.set_mixture_weights(alphas)
            metrics = evaluate(hybrid, task, train.batch_size, max_batches=train.eval_batches)
        points.append({"alphas": hybrid.mixture_weights().detach().tolist(), "test": metrics})
        if is_main():
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "sweep.json").write_text(json.dumps(
                {"task": task.name, "num_blocks": len(points[0]["alphas"]), "fine_tune": fine_tune, "points": points},
                indent=2))
    return points


# -- programming by proxy tasks ---------------------------------------------------------------------------
WIDTH_FIELDS = ("hidden_size",)
PROPORTIONAL_FIELDS = ("intermediate_size", "n_inner", "time_step_rank")


def scaled_config(config: PretrainedConfig, d_model: int, depth: int, max_length: int, vocab_size: int) -> PretrainedConfig:
    """A smaller, same-family copy of a component config: width d_model, `depth` blocks, random init.

    Head counts shrink with the width (keeping them dividing it), proportional sizes (MLP width) scale,
    and learned positions are extended to `max_length`.
    """
    values = config.to_dict()
    values.pop("attention_layers", None)  # GPT-Neo derives it from attention_types
    ratio = d_model / config.hidden_size
    names = type(config).attribute_map  # generic name -> the family's own (e.g. num_hidden_layers -> n_layer)
    for name, value in dict(hidden_size=d_model, num_hidden_layers=depth, vocab_size=vocab_size).items():
        values[names.get(name, name)] = value
    values.update(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    for name in PROPORTIONAL_FIELDS:
        if isinstance(values.get(name), int):
            values[name] = max(1, round(values[name] * ratio))
    for name in ("num_attention_heads", "num_heads", "n_head"):
        if isinstance(values.get(name), int) and name in values and "head_dim" not in values:
            heads = max(1, min(values[name], d_model // 16))
            while d_model % heads:
                heads -= 1
            values[name] = heads
    if isinstance(values.get("num_key_value_heads"), int):
        values["num_key_value_heads"] = 1
    if "head_dim" in values and isinstance(values.get("num_heads"), int) and "expand" in values:  # Mamba2 heads
        values["head_dim"] = min(values["head_dim"], values["expand"] * d_model)
        values["num_heads"] = values["expand"] * d_model // values["head_dim"]
    if "head_dim" in values and isinstance(values.get("num_attention_heads"), int):  # Llama-style explicit head_dim
        values["head_dim"] = d_model // values["num_attention_heads"]
    if "attention_types" in values:  # GPT-Neo: one attention type per layer
        values["attention_types"] = [[["global", "local"], depth // 2]] if depth % 2 == 0 else [[["global"], depth]]
    if "layer_types" in values:
        values["layer_types"] = None
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(values.get(name), int):
            values[name] = max(values[name], max_length)
    values.pop("model_type")
    return type(config)(**{k: v for k, v in values.items() if k not in ("transformers_version", "architectures")})


def program_proxy(hybrid: ManticorePreTrainedModel, proxy_tasks: Sequence[Task], train: TrainConfig,
                  search_config: SearchConfig, out_dir: str | Path, width: int = 32,
                  blocks_per_group: int = 1) -> list[list[float]]:
    """Search a small random-init copy of the hybrid on each proxy task; return the α averaged over tasks.

    The copy keeps the families and L, with width `width` and `blocks_per_group` blocks per group.
    """
    from ..hybrid.model import ManticoreForCausalLM

    L = hybrid.config.num_blocks
    found = []
    for task in proxy_tasks:
        configs = [scaled_config(c, width, L * blocks_per_group, task.max_length or 0, task.vocab_size)
                   for c in hybrid.config.component_configs()]
        torch.manual_seed(train.seed)
        proxy = ManticoreForCausalLM.from_components(configs, num_blocks=L)
        result = search(proxy, task, train, search_config, Path(out_dir) / task.name.replace("/", "__"))
        found.append(torch.tensor(result["alphas"]))
    average = torch.stack(found).mean(0)
    if is_main():
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "alphas.json").write_text(json.dumps(
            {"average": average.tolist(), "per_task": {t.name: a.tolist() for t, a in zip(proxy_tasks, found)}}, indent=2))
    return average.tolist()
