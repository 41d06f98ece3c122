"""Cost-aware search: a penalty on the expected cost of the searched layout, or a budget it must meet.

    search:
      cost: {measure: flops, weight: 0.5}          # loss + 0.5 · E_α[cost] / cost of the cheapest component
      cost: {measure: kv_bytes, budget: 1.1}       # the result costs at most 1.1 x the cheapest component

E_α[cost] = Σ_l Σ_k α_lk·c_lk is what the discretized layout costs on average when block l picks component k with
probability α_lk (`manticore.hybrid.cost.CostModel.expected`); with `relative: true` (the default) both the
penalty and the budget are in units of the cheapest component run alone, so `weight` has no units. After every
architecture step the penalty takes its own step on the simplex (`CostPenalty.step`), and a branch whose weight
falls below `prune_below` is set to exactly 0 (its logit to -inf): from then on it is skipped, in training and at
inference, and a large enough weight leaves only cheap branches. With a `budget`, the penalty's weight is a
Lagrange multiplier that rises while E_α[cost] is over budget and falls back to `weight` when it is under (dual
ascent, `budget_lr`); the layout the search ends with is the most probable one under α that meets the budget
(`best_layout`). Light to import (no torch until a search runs): the CLI lists these settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ...checks import check, check_int, check_number
from ...rundir import COST, COST_MEASURES, LATENCY_MEASURES, read_json, write_json

if TYPE_CHECKING:
    import torch

    from ...hybrid.cost import CostModel

Measure = Literal["params", "flops", "prefill_flops", "kv_bytes", "state_bytes", "cache_bytes", "decode_latency",
                  "prefill_latency"]


@dataclass
class CostSettings:
    """What the searched hybrid may cost (`search.cost`)."""

    measure: Measure = "flops"
    """What counts: 'params', 'flops' (per decoded token at `context`), 'prefill_flops', 'kv_bytes' (per sequence of
    `context` tokens), 'state_bytes', 'cache_bytes', or the measured 'decode_latency' / 'prefill_latency' (profiled
    once on this machine and kept in the stage's cost.json)."""
    weight: float = 0.0
    """λ: the penalty λ·E_α[cost] added to the loss of every architecture step (0: none, unless over budget)."""
    budget: float | None = None
    """A hard limit on the result's cost (null: none); in units of the cheapest component when `relative`."""
    relative: bool = True
    """weight and budget in units of the cheapest component alone (true), or in the measure's own units (false)."""
    context: int = 4096
    """The context length (tokens) at which FLOPs and cache bytes are counted."""
    prune_below: float = 0.02
    """A branch whose weight falls below this is set to exactly 0 and skipped from then on (0: never)."""
    budget_lr: float = 0.5
    """How fast the budget's multiplier moves per step, per unit of relative excess cost."""

    def __post_init__(self):
        check(self.measure in COST_MEASURES, "search.cost.measure", self.measure, ", ".join(map(repr, COST_MEASURES)))
        check_number(self.weight, "search.cost.weight", minimum=0)
        if self.budget is not None:
            check_number(self.budget, "search.cost.budget", positive=True)
        check(self.weight > 0 or self.budget is not None, "search.cost", {"weight": self.weight, "budget": self.budget},
              "a weight > 0, a budget, or both")
        check_int(self.context, "search.cost.context", minimum=1)
        check_number(self.prune_below, "search.cost.prune_below", minimum=0, maximum=0.5)
        check_number(self.budget_lr, "search.cost.budget_lr", minimum=0)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("measure", "weight", "budget", "relative", "context", "prune_below",
                                              "budget_lr")}


class CostPenalty:
    """The penalty's state during one search: the cost model, its unit, and the budget's multiplier."""

    def __init__(self, settings: CostSettings, model, out_dir: Path | None, world: int = 1):
        self.settings = settings
        self.costs = cost_model(model, settings.measure, out_dir, world)
        self.unit = reference_cost(self.costs, settings.measure, settings.context) if settings.relative else 1.0
        self.multiplier = 0.0  # the budget's Lagrange multiplier, on top of `weight`

    def relative(self, alphas: torch.Tensor) -> torch.Tensor:
        """E_α[cost] in the penalty's unit (differentiable in α)."""
        return self.costs.expected(alphas, self.settings.measure, self.settings.context) / self.unit

    def step(self, logits: torch.Tensor, lr: float) -> dict[str, float]:
        """After the algorithm's architecture update: one step on (weight + multiplier)·E_α[cost], then exact
        zeros under `prune_below`; update the budget's multiplier. Returns what the log shows: the expected
        relative cost and the penalty's current weight.

        E_α[cost] is linear in α with slope c_lk (the branch costs), so its exponentiated-gradient step on the
        simplex, α_lk ← α_lk·exp(-lr·λ·c_lk) / Z, is exactly a_lk ← a_lk - lr·λ·c_lk on the logits: a branch's
        weight shrinks geometrically with its cost, at a speed set by λ whatever the optimizer of the loss
        (AdamW's steps have a bounded size, so a penalty in its gradient could never outweigh it)."""
        import torch

        table = self.costs.table(self.settings.measure, self.settings.context).to(logits) / self.unit
        with torch.no_grad():
            value = float(self.relative(torch.softmax(logits, dim=-1)))
            if self.settings.budget is not None:
                self.multiplier = max(0.0, self.multiplier + self.settings.budget_lr * (value - self.settings.budget))
            strength = self.settings.weight + self.multiplier
            logits.sub_(lr * strength * table)  # -inf logits (exact zeros) stay -inf
        self.prune(logits)
        return {"cost": value, "cost_weight": strength}

    def prune(self, logits: torch.Tensor) -> None:
        """Branches under `prune_below` get weight exactly 0 (logit -inf); a block keeps its best branch."""
        import torch

        if self.settings.prune_below <= 0:
            return
        with torch.no_grad():
            alphas = torch.softmax(logits, dim=-1)
            low = alphas < self.settings.prune_below
            low[torch.arange(len(alphas)), alphas.argmax(-1)] = False
            logits[low] = float("-inf")


def reference_cost(costs: CostModel, measure: str, context: int) -> float:
    """The unit of relative costs: the cheapest component run alone (component k in every block)."""
    L, K = costs.shape
    cheapest = min(costs.cost([k] * L, measure, context) for k in range(K))
    if cheapest <= 0:  # e.g. kv_bytes with an SSM component: the unit is then the dearest one
        cheapest = max(costs.cost([k] * L, measure, context) for k in range(K))
    if cheapest <= 0:
        raise ValueError(f"search.cost.measure={measure!r} is 0 for every component of this hybrid, so it can't "
                         f"weigh them; pick another measure (or relative: false with an absolute budget).")
    return cheapest


def fingerprint(model) -> str:
    """What a latency profile depends on: the hybrid's structure and this machine."""
    import os
    import platform

    import torch

    config = model.config.to_dict()
    shape = {key: config.get(key) for key in ("components", "num_blocks", "groups", "hidden_size", "vocab_size")}
    where = {"host": platform.node(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
             "torch": torch.__version__}
    return hashlib.sha256(json.dumps([shape, where], sort_keys=True, default=str).encode()).hexdigest()[:16]


def cost_model(model, measure: str, out_dir: Path | None, world: int = 1) -> CostModel:
    """The hybrid's cost model; for a latency measure, its profile measured once and kept in out_dir/cost.json
    (reused while the hybrid and the machine are the same)."""
    from ...hybrid.cost import CostModel, Latency

    costs = CostModel.of(model)
    if measure not in LATENCY_MEASURES:
        return costs
    if world > 1:
        raise ValueError(f"search.cost.measure={measure!r} is measured on one process; run the search without "
                         "torchrun, or count a measure instead (flops, params, kv_bytes).")
    path = None if out_dir is None else Path(out_dir) / COST
    key = fingerprint(model)
    if path is not None and path.exists():
        saved = read_json(path)
        if saved.get("fingerprint") == key and saved.get("latency"):
            costs.latency = Latency(**saved["latency"])
            return costs
    costs.profile_latency(model)
    if path is not None:
        write_json(path, {"fingerprint": key, **costs.profile()})
    return costs
