"""Discretization (paper, B.4): replace each block's α by its argmax one-hot, and drop what it never runs.

A one-hot α^(l) = e_k runs only component k's group l, with both projectors reduced to Trunc/Pad, so a
discretized hybrid is one of the components, an existing hybrid or a 'frankenmerge'. With `prune=True` the
result is rebuilt without the parts it never computes:

- components chosen in no block are removed (with their projectors and mixture columns);
- a kept component loses the layers of the groups it wasn't chosen for (its config is pruned by the family's
  adapter, `prune_config`, and its weights renamed, `prune_state_dict`); those groups become empty and their
  mixture weight is fixed at 0 (no projectors);
- a component's positional embedding and final norm follow its original first and last group: they are kept
  (and applied where they were) if that group is kept, and removed otherwise, so the kept branches compute
  exactly what they computed before;
- d_max becomes the widest kept component: the hidden state between one-hot blocks is Pad(h) (zeros past
  the chosen component's width) and the first block only reads Trunc(x), so the embedding's, head's and
  projectors' columns past the new d_max only ever met zeros or were truncated away.

Everything kept (embedding, head, projectors, component weights) is copied exactly; the new α is the one-hot
and is frozen (with one branch per block, nothing else is allowed).
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import torch

from ..components.registry import adapter_class
from .config import ManticoreConfig, component_config_dict


def one_hot_choice(alphas: torch.Tensor) -> list[int]:
    """The argmax component of each block's α (L, K); ties go to the lowest index."""
    choice = []
    for row in alphas.detach().tolist():
        best = max(row)
        choice.append(row.index(best))
    return choice


def _checked_choice(choice, L: int, K: int, mixture) -> list[int]:
    """A layout given by hand: one component index in [0, K) per block, never a pruned branch."""
    if not (isinstance(choice, (list, tuple)) and len(choice) == L
            and all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < K for k in choice)):
        raise ValueError(f"choice={choice!r} is not valid; accepted: a layout of {L} component indices in [0, {K - 1}], "
                         "one per Manticore block.")
    if mixture.pruned is not None and any(mixture.pruned[l][k] for l, k in enumerate(choice)):
        raise ValueError(f"choice={list(choice)} picks a pruned branch (a component whose layers in that block were "
                         "removed); pick one that has a group in every block.")
    return list(choice)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def time_forward(model, input_ids: torch.Tensor, repeats: int = 5) -> float:
    """Median seconds of `repeats` eval-mode forwards on input_ids (after one warm-up run)."""
    was_training = model.training
    model.eval()
    sync = torch.cuda.synchronize if input_ids.is_cuda else (lambda: None)
    try:
        model(input_ids)
        times = []
        for _ in range(max(1, repeats)):
            sync()
            start = time.perf_counter()
            model(input_ids)
            sync()
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times)


def discretized_config(config: ManticoreConfig, choice: list[int]) -> tuple[ManticoreConfig, list[int], dict[int, list[int]]]:
    """The pruned config for one-hot choices `choice` (one component index per block).

    Returns (new config, the kept components' old indices, {old component index: kept layer indices}).
    """
    L = config.num_blocks
    kept = sorted(set(choice))
    component_dicts, groups, firsts, lasts, layers = [], [], [], [], {}
    sources = config.component_configs()
    for k in kept:
        old_groups = config.block_groups(k)
        keep = [i for l, (a, b) in enumerate(old_groups) if choice[l] == k for i in range(a, b)]
        layers[k] = keep
        source = sources[k]
        depth = adapter_class(source).depth_of(source)
        if keep == list(range(depth)):
            component_dicts.append(dict(config.components[k]))
        else:
            component_dicts.append(component_config_dict(adapter_class(source).prune_config(source, keep)))
        position, new_groups = 0, []
        for l, (a, b) in enumerate(old_groups):
            size = b - a if choice[l] == k else 0
            new_groups.append([position, position + size])
            position += size
        groups.append(new_groups)
        first, last = config.first_group(k), config.last_group(k)
        firsts.append(first if first is not None and choice[first] == k else None)
        lasts.append(last if last is not None and choice[last] == k else None)

    uniform = all(
        all(b - a == g[0][1] for a, b in g) and first == 0 and last == L - 1
        for g, first, last in zip(groups, firsts, lasts)
    )
    values = config.to_dict()
    for key in ("adapters", "hidden_size", "transformers_version", "_name_or_path", "model_type"):
        values.pop(key, None)
    values.update(
        components=component_dicts,
        groups=None if uniform else groups,
        first_groups=None if uniform else firsts,
        last_groups=None if uniform else lasts,
    )
    return ManticoreConfig(**values), kept, layers


def _source_names(model, kept: list[int], layers: dict[int, list[int]], prefix: str) -> dict[str, str]:
    """{new model's state name: old model's state name}, with components and projectors renumbered."""
    base = model.base_model
    names = {}
    for name in model.state_dict():
        relative = name[len(prefix):] if name.startswith(prefix) else None
        if relative is None or relative.split(".", 1)[0] not in ("components", "blocks", "mixture"):
            names[name] = name  # embedding, head: same name (the mixture is set to the one-hot afterwards)
    for j, k in enumerate(kept):
        adapter = base.components[k]
        backbone = {key: f"{prefix}components.{k}.backbone.{key}" for key in adapter.backbone.state_dict()}
        for key, old in adapter.prune_state_dict(backbone, layers[k]).items():
            names[f"{prefix}components.{j}.backbone.{key}"] = old
        for l, block in enumerate(base.blocks):
            for side in ("proj_in", "proj_out"):
                for key in getattr(block, side)[k].state_dict():
                    names[f"{prefix}blocks.{l}.{side}.{j}.{key}"] = f"{prefix}blocks.{l}.{side}.{k}.{key}"
    return names


@torch.no_grad()
def _copy_weights(new, old_state: dict[str, torch.Tensor], names: dict[str, str], d_old: int, d_new: int) -> None:
    """Copy every tensor of `new` from old_state[names[name]]; dimensions of size d_old shrink to d_new."""
    missing = []
    for name, target in new.state_dict().items():
        if name.endswith("mixture.logits"):
            continue
        if names.get(name) not in old_state:
            missing.append(name)
            continue
        value = old_state[names[name]]
        if value.shape != target.shape:
            if value.dim() != target.dim() or any(
                a != b and not (a == d_old and b == d_new) for a, b in zip(value.shape, target.shape)
            ):
                raise RuntimeError(f"discretize: {name} has shape {tuple(value.shape)}, expected {tuple(target.shape)}.")
            value = value[tuple(slice(0, n) for n in target.shape)]
        target.copy_(value)
    if missing:
        raise RuntimeError(f"discretize: no source weights for {missing[:5]} (and {max(0, len(missing) - 5)} more).")


def discretize(
    model,
    prune: bool = True,
    example_input_ids: torch.Tensor | None = None,
    repeats: int = 5,
    choice: list[int] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Replace every block's α by its argmax one-hot (or the layout `choice`); with prune=True, rebuild without
    the unused branches.

    model: a ManticorePreTrainedModel (causal LM, sequence classification or the base model); unchanged.
    choice: one component index per block (e.g. a cost-aware search's layout within budget); default: argmax α.
    example_input_ids: (b, t) token ids; if given, the report has the median forward time of the original
        (with its current α) and of the new model over `repeats` runs, and the max |logits| difference between
        the new model and the original with the one-hot α.

    Returns (new model, report) with report keys: choice (the component of each block), alphas (the α that
    was discretized), components_kept (old indices), layers_kept ({old index: old layer indices}),
    parameters_before / parameters_after, hidden_size_before / hidden_size_after (d_max),
    forward_seconds_before / forward_seconds_after, speedup and max_abs_logit_diff (the last four None
    without example_input_ids).
    """
    base = model.base_model
    config: ManticoreConfig = model.config
    alphas = model.mixture_weights().detach().cpu()
    L, K = alphas.shape
    choice = one_hot_choice(alphas) if choice is None else _checked_choice(choice, L, K, model.base_model.mixture)
    one_hot = torch.zeros(L, K)
    one_hot[torch.arange(L), torch.tensor(choice)] = 1.0

    if prune:
        new_config, kept, layers = discretized_config(config, choice)
        reference = next(iter(model.parameters()))
        new = type(model)(new_config).to(device=reference.device, dtype=reference.dtype)
        prefix = "" if model is base else model.base_model_prefix + "."
        names = _source_names(model, kept, layers, prefix)
        _copy_weights(new, model.state_dict(), names, config.hidden_size, new_config.hidden_size)
        new.set_mixture_weights(one_hot[:, kept])
        old_params = dict(model.named_parameters())
        for name, p in new.named_parameters():  # what was frozen stays frozen
            if names.get(name) in old_params:
                p.requires_grad_(old_params[names[name]].requires_grad)
    else:
        new = copy.deepcopy(model)
        new.set_mixture_weights(one_hot)
        kept = list(range(K))
        layers = {k: list(range(c.num_blocks)) for k, c in enumerate(base.components)}
    new.freeze_mixture_weights()
    new.train(model.training)

    report: dict[str, Any] = {
        "choice": choice,
        "alphas": alphas.tolist(),
        "components_kept": kept,
        "layers_kept": layers,
        "parameters_before": count_parameters(model),
        "parameters_after": count_parameters(new),
        "hidden_size_before": config.hidden_size,
        "hidden_size_after": new.config.hidden_size,
        "forward_seconds_before": None,
        "forward_seconds_after": None,
        "speedup": None,
        "max_abs_logit_diff": None,
    }
    if example_input_ids is not None:
        report["forward_seconds_before"] = time_forward(model, example_input_ids, repeats)
        report["forward_seconds_after"] = time_forward(new, example_input_ids, repeats)
        report["speedup"] = report["forward_seconds_before"] / max(report["forward_seconds_after"], 1e-12)
        report["max_abs_logit_diff"] = _one_hot_difference(model, new, one_hot, example_input_ids)
    return new, report


@torch.no_grad()
def _one_hot_difference(model, new, one_hot: torch.Tensor, input_ids: torch.Tensor) -> float:
    """Max |output| difference between `new` and `model` with α set to `one_hot` (restored afterwards)."""
    logits = model.base_model.mixture.logits
    saved = logits.detach().clone()
    was_training, new_was_training = model.training, new.training
    model.eval(), new.eval()
    try:
        model.set_mixture_weights(one_hot)
        want, got = _output(model(input_ids)), _output(new(input_ids))
    finally:
        logits.copy_(saved)
        model.train(was_training), new.train(new_was_training)
    if want.shape != got.shape:  # the base model's hidden states: d_max may have shrunk (zeros beyond)
        want = want[..., : got.shape[-1]]
    return (want.float() - got.float()).abs().max().item()


def _output(out) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else out.last_hidden_state
