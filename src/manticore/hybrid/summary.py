"""A plain-text description of a hybrid: components, block groups, projectors and mixture weights."""

from __future__ import annotations

import torch


def count(parameters) -> int:
    return sum(p.numel() for p in parameters)


def describe(model) -> str:
    """Components (family, d_model, depth, limit, parameters), the L x K block groups and mixture weights."""
    base = model.base_model
    config = model.config
    alphas = model.mixture_weights().detach()
    lines = [
        f"{type(model).__name__}: K={len(base.components)} components, L={config.num_blocks} Manticore blocks, "
        f"d_max={config.hidden_size}, vocab={config.vocab_size}",
        "",
        f"{'k':>2}  {'family':<10} {'d_model':>7} {'blocks':>6} {'max_len':>7} {'params':>10}",
    ]
    for k, c in enumerate(base.components):
        limit = "-" if c.max_positions is None else str(c.max_positions)
        params = count(c.parameters())
        lines.append(f"{k:>2}  {c.config.model_type:<10} {c.d_model:>7} {c.num_blocks:>6} {limit:>7} {params:>10,}")
    lines += ["", "Manticore block l runs these blocks of each component, mixed with weights α^(l):"]
    for l, block in enumerate(base.blocks):
        parts = [f"k{k}[{a}:{b}] α={alphas[l, k].item():.3f}" if a != b else f"k{k}[pruned]"
                 for k, (a, b) in enumerate(block.groups)]
        lines.append(f"  block {l}: " + "  ".join(parts))
    parts = {
        "components": count(model.component_parameters()),
        "projectors": count(model.projector_parameters()),
        "mixture weights": count(model.architecture_parameters()),
    }
    total = count(model.parameters())
    parts["embedding and head"] = total - sum(parts.values())
    lines += ["", f"parameters: {total:,} = " + " + ".join(f"{n:,} {name}" for name, n in parts.items())]
    return "\n".join(lines)


def one_hot_check(model, input_ids: torch.Tensor, k: int, component) -> float:
    """Max |logits| difference between the hybrid with α one-hot at k and component k itself."""
    logits = model.architecture_parameters()[0]
    saved = logits.detach().clone()
    weights = torch.zeros(len(model.base_model.components))
    weights[k] = 1.0
    model.set_mixture_weights(weights)
    with torch.no_grad():
        diff = (model(input_ids).logits - component(input_ids).logits).abs().max().item()
        logits.copy_(saved)
    return diff
