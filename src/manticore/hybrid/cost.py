"""The cost model: what a hybrid, a mixture of its branches or one discrete layout costs to run.

    model = CostModel.of(hybrid)                       # counted from the hybrid, per block group
    model.cost(hybrid.mixture_weights(), "kv_bytes", context=4096)   # only branches with weight > 0
    model.cost([1, 0], "flops")                 # a discrete layout: component 1 in block 0, 0 in block 1
    model.expected(alphas, "params")                   # E_α[cost] = Σ_l Σ_k α_lk·c_lk, differentiable in α
    model.profile_latency(hybrid)                      # measured prefill / decode seconds per token, per group

A branch (l, k) is component k's block group l (`components/cost.py` counts each of its blocks) with, while its
weight is strictly between 0 and 1, its two projectors (Linear D->d_k and d_k->D); at weight 1 they are
Trunc/Pad and cost nothing, at weight 0 the branch doesn't run. Every model pays the embedding and the head (a
V x D matrix multiply per token); the embedding is a lookup.

Measures (MEASURES), per token or per sequence of `context` tokens:
    params          parameters that run (all a branch needs, embedding and head included)
    flops           FLOPs to decode one token after `context` tokens
    prefill_flops   FLOPs per token of a prefill of `context` tokens
    kv_bytes        bytes of keys and values cached for a sequence of `context` tokens
    state_bytes     bytes of recurrent state per sequence
    cache_bytes     kv_bytes + state_bytes
    decode_latency  measured seconds per decoded token (needs `profile_latency`)
    prefill_latency measured seconds per token of a prefill (needs `profile_latency`)

A layout's cost is exact for the counted measures. A measured latency of a layout or mixture is the sum of its
parts as timed inside the full hybrid; `decode_seconds_per_token` times any model end to end.

Shapes: L = blocks, K = components, D = d_max, V = vocabulary.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..checks import check_one_of
from ..rundir import COST_MEASURES, LATENCY_MEASURES
from ..components.cost import LayerCost

MEASURES = tuple(COST_MEASURES)
LATENCY = LATENCY_MEASURES
DEFAULT_CONTEXT = 4096  # the context length of a cost when none is given


@dataclass(frozen=True)
class Branch:
    """Component k's block group l: its blocks' costs and its projectors'."""

    layers: tuple[LayerCost, ...]
    projector_params: int
    """Both projectors' parameters (they run only while 0 < α_lk < 1)."""
    projector_flops: int
    """Both projectors' FLOPs per token."""

    def value(self, measure: str, context: int, projectors: bool) -> float:
        """The branch's `measure` (any counted one) at `context`, with or without its projectors."""
        layers = self.layers
        if measure == "params":
            own = sum(c.params for c in layers)
            return own + (self.projector_params if projectors else 0)
        if measure in ("flops", "prefill_flops"):
            own = sum(c.decode_flops(context) if measure == "flops" else c.prefill_flops(context) for c in layers)
            return own + (self.projector_flops if projectors else 0)
        if measure == "kv_bytes":
            return sum(c.kv_bytes(context) for c in layers)
        if measure == "state_bytes":
            return sum(c.state_bytes for c in layers)
        return sum(c.cache_bytes(context) for c in layers)  # cache_bytes


@dataclass
class Latency:
    """Measured seconds per token on this machine: each branch's blocks, each branch's projectors, and the rest
    (embedding, head, the per-step work of the model around the blocks)."""

    decode: list[list[float]]
    """(L, K) seconds per decoded token of each branch's blocks."""
    prefill: list[list[float]]
    """(L, K) seconds per prefilled token of each branch's blocks."""
    decode_projectors: list[list[float]]
    prefill_projectors: list[list[float]]
    decode_rest: float
    prefill_rest: float
    machine: dict[str, Any] = field(default_factory=dict)
    """Where it was measured: host, torch version and threads, the prefill length and the decoded tokens."""


class CostModel:
    """The costs of a hybrid's branches (L x K) and of what every model runs (embedding and head)."""

    def __init__(self, branches: list[list[Branch]], widths: list[int], edges: list[int], vocab_size: int,
                 head: dict[str, bool], names: list[str], layout_params=None, latency: Latency | None = None):
        self.branches, self.widths, self.edges, self.vocab_size = branches, widths, edges, vocab_size
        self.head, self.names, self.latency = head, names, latency
        self._layout_params = layout_params  # exact stored parameters of a discretized layout (or None)
        self._layouts: dict[tuple[int, ...], int] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.branches), len(self.branches[0])

    @classmethod
    def of(cls, hybrid) -> CostModel:
        """The counted costs of `hybrid` (a ManticorePreTrainedModel or its base model)."""
        base = hybrid.base_model
        costs = [[c.layer_cost(i) for i in range(c.num_blocks)] for c in base.components]
        branches = []
        for block in base.blocks:
            row = []
            for k, (start, stop) in enumerate(block.groups):
                proj = [p for side in (block.proj_in, block.proj_out) for p in side[k].parameters()]
                weights = sum(p.numel() for p in proj if p.dim() == 2)
                row.append(Branch(tuple(costs[k][start:stop]), sum(p.numel() for p in proj), 2 * weights))
            branches.append(row)
        # a component's parameters outside its blocks: a positional embedding, a final norm
        edges = [sum(p.numel() for p in c.backbone.parameters()) - sum(p.numel() for p in c.blocks.parameters())
                 for c in base.components]
        lm_head = hybrid.get_output_embeddings() if hasattr(hybrid, "get_output_embeddings") else None
        in_base = {id(p) for p in base.parameters()}
        # the head outside the base model (an LM head unless tied, a classifier's score), at width d_max
        outside = sum(p.numel() for p in hybrid.parameters() if id(p) not in in_base)
        head = {"outside": outside, "width": base.config.hidden_size, "lm": isinstance(lm_head, torch.nn.Linear)}
        names = [c.config.model_type for c in base.components]

        def layout_params(choice: list[int]) -> int:  # the discretized model, built on the meta device
            from .discretize import discretized_config

            with torch.device("meta"):
                model = type(hybrid)(discretized_config(hybrid.config, choice)[0])
            return sum(p.numel() for p in model.parameters())

        return cls(branches, [c.d_model for c in base.components], edges, base.config.vocab_size, head, names,
                   layout_params)

    # -- costs of mixtures and layouts --------------------------------------------------------------------------
    def weights_of(self, mixture) -> list[list[float]]:
        """An (L, K) α (tensor or lists) or a layout (one component index per block) as (L, K) weights."""
        L, K = self.shape
        if isinstance(mixture, torch.Tensor):
            mixture = mixture.detach().tolist()
        mixture = list(mixture)
        if len(mixture) == L and all(isinstance(k, int) and not isinstance(k, bool) for k in mixture):
            if not all(0 <= k < K for k in mixture):
                raise ValueError(f"A layout gives one component index in [0, {K - 1}] per block; got {mixture}.")
            return [[1.0 if j == k else 0.0 for j in range(K)] for k in mixture]
        if len(mixture) != L or any(len(row) != K for row in mixture):
            raise ValueError(f"Mixture weights of shape (L, K) = ({L}, {K}) or a layout of {L} component indices "
                             f"are accepted; got {mixture!r:.200}.")
        return [[float(w) for w in row] for row in mixture]

    def cost(self, mixture, measure: str, context: int = DEFAULT_CONTEXT) -> float:
        """What running `mixture` (α or a layout) costs in `measure`: only branches with weight > 0 count, and
        their projectors' FLOPs only while their weight is below 1. A layout's params are exactly those of the
        hybrid discretized to it (what `discretize` keeps: the chosen blocks, their projectors, the used
        components' positional embeddings and norms, an embedding and head as wide as the widest kept
        component)."""
        check_one_of(measure, "measure", MEASURES)
        weights = self.weights_of(mixture)
        choice = [row.index(1.0) for row in weights] if all(sorted(row)[-1] == 1.0 for row in weights) else None
        if measure == "params" and choice is not None and self._layout_params is not None:
            key = tuple(choice)
            if key not in self._layouts:
                self._layouts[key] = self._layout_params(choice)
            return float(self._layouts[key])
        used = [k for k in range(self.shape[1]) if any(row[k] > 0 for row in weights)]
        total = self._fixed(measure, context, max(self.widths[k] for k in used))
        if measure == "params":
            total += sum(self.edges[k] for k in used) + self.shape[0] * len(used)  # and α's logits
        for l, row in enumerate(weights):
            for k, w in enumerate(row):
                if w > 0:
                    projectors = w < 1 or measure == "params"  # stored beside a kept branch, run while w < 1
                    total += self.branch_cost(l, k, measure, context, projectors=projectors)
        return total

    def expected(self, alphas: torch.Tensor, measure: str, context: int = DEFAULT_CONTEXT) -> torch.Tensor:
        """E_α[cost of the layout]: block l runs component k with probability α_lk. Linear in α (L, K), so its
        gradient is the table of branch costs; a penalty λ·expected(...) in the search pulls α off the costly
        branches."""
        return self._fixed(measure, context, max(self.widths)) + (alphas * self.table(measure, context).to(alphas)).sum()

    def table(self, measure: str, context: int = DEFAULT_CONTEXT) -> torch.Tensor:
        """(L, K) cost of each branch as a layout runs it (no projectors), float64."""
        check_one_of(measure, "measure", MEASURES)
        L, K = self.shape
        return torch.tensor([[self.branch_cost(l, k, measure, context, projectors=False) for k in range(K)]
                             for l in range(L)], dtype=torch.float64)

    def branch_cost(self, l: int, k: int, measure: str, context: int, projectors: bool) -> float:
        if measure in LATENCY:
            latency = self._latency()
            own, proj = (latency.decode, latency.decode_projectors) if measure == "decode_latency" else \
                (latency.prefill, latency.prefill_projectors)
            return own[l][k] + (proj[l][k] if projectors else 0.0)
        return self.branches[l][k].value(measure, context, projectors)

    def _fixed(self, measure: str, context: int, width: int) -> float:
        """What every model pays at hybrid width `width`: the embedding and head."""
        V = self.vocab_size
        if measure == "params":  # the embedding, and the head scaled to the width (exact at d_max)
            return V * width + round(self.head["outside"] * width / self.head["width"])
        if measure in ("flops", "prefill_flops"):
            return 2 * V * width if self.head["lm"] else 0
        if measure in LATENCY:
            latency = self._latency()
            return latency.decode_rest if measure == "decode_latency" else latency.prefill_rest
        return 0.0

    def _latency(self) -> Latency:
        if self.latency is None:
            raise ValueError("This cost model has no measured latency: call profile_latency(hybrid) first (or load "
                             "a profile with latency from the run directory's cost.json).")
        return self.latency

    def best_layout(self, alphas, measure: str | None = None, budget: float | None = None,
                    context: int = DEFAULT_CONTEXT) -> list[int]:
        """The most probable layout under α (L, K) (largest Σ_l log α_l,k_l; the argmax per block without a
        budget) among those whose `measure` is at most `budget` (in the measure's units). A ValueError names the
        cheapest layout's cost when none fits."""
        weights = self.weights_of(alphas)
        if budget is None:
            return [row.index(max(row)) for row in weights]
        L, K = self.shape
        if K ** L > 1 << 16:
            raise ValueError(f"{K}^{L} layouts are too many to search for one within budget; use fewer blocks.")

        def score(choice: list[int]) -> float:
            return sum(math.log(row[k]) if row[k] > 0 else -math.inf for row, k in zip(weights, choice))

        costs = {tuple(c): self.cost(c, measure, context) for c in self.layouts()}
        fitting = [list(c) for c, value in costs.items() if value <= budget]
        if not fitting:
            cheapest = min(costs, key=costs.get)
            raise ValueError(f"No layout costs at most {budget:.6g} in {measure}; the cheapest, {list(cheapest)}, "
                             f"costs {costs[cheapest]:.6g}.")
        return max(fitting, key=lambda c: (score(c), -costs[tuple(c)]))

    def layouts(self) -> Iterator[list[int]]:
        """Every discrete layout (one component per block), K^L of them."""
        L, K = self.shape
        return (list(choice) for choice in itertools.product(range(K), repeat=L))

    # -- measured latency --------------------------------------------------------------------------------------
    def profile_latency(self, hybrid, prefill_length: int = 64, decode_tokens: int = 16, repeats: int = 3) -> Latency:
        """Time every branch inside `hybrid` on this machine (eval mode, no gradient, batch 1): each component
        alone (one-hot α in every block) gives its blocks' prefill and decode seconds per token and the rest
        (embedding, head, the step's own work); a uniform α gives what the projectors add, shared evenly by the
        branches. Medians over `repeats`; the hybrid's α is restored."""
        base = hybrid.base_model
        L, K = self.shape
        saved, was_training = base.mixture.logits.detach().clone(), hybrid.training
        ids = torch.randint(0, base.config.vocab_size, (1, prefill_length), generator=torch.Generator().manual_seed(0))
        pruned = base.mixture.pruned or [[False] * K for _ in range(L)]
        hybrid.eval()
        try:
            alone = [_timed_run(hybrid, _one_hot_where_possible(pruned, k), ids, decode_tokens, repeats)
                     for k in range(K)]
            uniform = [[0.0 if p else 1.0 / row.count(False) for p in row] for row in pruned]
            mixed = _timed_run(hybrid, uniform, ids, decode_tokens, repeats)
        finally:
            with torch.no_grad():
                base.mixture.logits.copy_(saved)
            hybrid.train(was_training)
        blocks = {phase: [[alone[k][phase]["blocks"][l][k] for k in range(K)] for l in range(L)]
                  for phase in ("decode", "prefill")}
        rest = {phase: statistics.median(alone[k][phase]["rest"] for k in range(K)) for phase in ("decode", "prefill")}
        # what the mixture adds beyond its blocks and the rest is its projectors (in generation they run folded, as
        # plain matrix multiplies the hooks don't see): shared evenly by the branches that have them
        branches = sum(row.count(False) for row in pruned)
        projectors = {}
        for phase in ("decode", "prefill"):
            extra = mixed[phase]["rest"] + sum(map(sum, mixed[phase]["projectors"])) - rest[phase]
            share = max(0.0, extra) / branches
            projectors[phase] = [[0.0 if p else share for p in row] for row in pruned]
        import os
        import platform

        self.latency = Latency(
            decode=blocks["decode"], prefill=blocks["prefill"],
            decode_projectors=projectors["decode"], prefill_projectors=projectors["prefill"],
            decode_rest=rest["decode"], prefill_rest=rest["prefill"],
            machine={"host": platform.node(), "cpus": os.cpu_count(), "torch": torch.__version__,
                     "threads": torch.get_num_threads(), "device": str(ids.device),
                     "prefill_length": prefill_length, "decode_tokens": decode_tokens, "repeats": repeats})
        return self.latency

    # -- the profile, for people and for cost.json ----------------------------------------------------------------
    def profile(self, contexts: Sequence[int] = (4096, 32768)) -> dict[str, Any]:
        """A JSON-ready table: per branch (as a layout runs it) and for the embedding and head, every counted
        measure at each context (and the measured latency, if profiled)."""
        L, K = self.shape
        counted = [m for m in MEASURES if m not in LATENCY]
        rows = [{"block": l, "component": k, "name": self.names[k],
                 "layers": len(self.branches[l][k].layers),
                 **{f"{m}@{c}": self.branch_cost(l, k, m, c, projectors=False) for m in counted for c in contexts},
                 "projector_params": self.branches[l][k].projector_params,
                 "projector_flops": self.branches[l][k].projector_flops}
                for l in range(L) for k in range(K)]
        return {"components": self.names, "num_blocks": L, "contexts": list(contexts), "branches": rows,
                "head": {"params": self._fixed("params", 0, max(self.widths)),
                         "flops": self._fixed("flops", 0, max(self.widths))},
                "latency": None if self.latency is None else asdict(self.latency)}


def _one_hot_where_possible(pruned: list[list[bool]], k: int) -> list[list[float]]:
    """α with component k in every block where it has a group, else the block's first branch that has one."""
    rows = []
    for row in pruned:
        choice = k if not row[k] else row.index(False)
        rows.append([float(j == choice) for j in range(len(row))])
    return rows


@contextmanager
def _timing(base) -> Iterator[dict]:
    """Seconds spent in each branch's blocks and projectors during the forwards inside: {"blocks": {(k, start,
    stop): s}, "projectors": {(l, k): s}, "total": s of the whole forwards}."""
    spent: dict[str, dict] = {"blocks": {}, "projectors": {}}
    originals = []
    for k, component in enumerate(base.components):
        run = component.run_blocks

        def timed(h, start, stop, *args, _run=run, _k=k, **kwargs):
            begin = time.perf_counter()
            out = _run(h, start, stop, *args, **kwargs)
            key = (_k, start, stop)
            spent["blocks"][key] = spent["blocks"].get(key, 0.0) + time.perf_counter() - begin
            return out

        component.run_blocks = timed  # an instance attribute over the method, removed below
        originals.append(component)
    hooks = []
    for l, block in enumerate(base.blocks):
        for k in range(len(block.groups)):
            for projector in (block.proj_in[k], block.proj_out[k]):
                clock: dict[str, float] = {}
                hooks.append(projector.register_forward_pre_hook(
                    lambda m, a, _c=clock: _c.__setitem__("t", time.perf_counter())))
                hooks.append(projector.register_forward_hook(
                    lambda m, a, o, _c=clock, _key=(l, k): spent["projectors"].__setitem__(
                        _key, spent["projectors"].get(_key, 0.0) + time.perf_counter() - _c["t"])))
    try:
        yield spent
    finally:
        for component in originals:
            del component.run_blocks
        for hook in hooks:
            hook.remove()


@torch.no_grad()
def _timed_run(hybrid, weights: list[list[float]], ids: torch.Tensor, decode_tokens: int, repeats: int) -> dict:
    """Per phase (prefill, decode): seconds per token of each branch's blocks (L, K), of its projectors (L, K), and
    of the rest, under mixture `weights`; medians over `repeats`."""
    base = hybrid.base_model
    base.mixture.set(weights)
    L, K = len(weights), len(weights[0])
    runs = {"prefill": [], "decode": []}
    for r in range(repeats + 1):  # run 0 warms up
        with _timing(base) as spent:
            begin = time.perf_counter()
            decoder = Decoder(hybrid, ids)
            prefill = time.perf_counter() - begin
        runs_prefill = (spent, prefill, ids.shape[1])
        with _timing(base) as spent:
            begin = time.perf_counter()
            for _ in range(decode_tokens):
                decoder.step()
            decode = time.perf_counter() - begin
        if r:
            runs["prefill"].append(runs_prefill)
            runs["decode"].append((spent, decode, decode_tokens))
    out = {}
    for phase, records in runs.items():
        per = []
        for spent, total, tokens in records:
            blocks = [[0.0] * K for _ in range(L)]
            for l, block in enumerate(base.blocks):
                for k, (start, stop) in enumerate(block.groups):
                    blocks[l][k] = spent["blocks"].get((k, start, stop), 0.0) / tokens
            projectors = [[spent["projectors"].get((l, k), 0.0) / tokens for k in range(K)] for l in range(L)]
            rest = total / tokens - sum(map(sum, blocks)) - sum(map(sum, projectors))
            per.append((blocks, projectors, rest))
        out[phase] = {"blocks": _median_table([p[0] for p in per]), "projectors": _median_table([p[1] for p in per]),
                      "rest": statistics.median(p[2] for p in per)}
    return out


def _median_table(tables: list[list[list[float]]]) -> list[list[float]]:
    return [[statistics.median(t[l][k] for t in tables) for k in range(len(tables[0][0]))]
            for l in range(len(tables[0]))]


class Decoder:
    """Greedy decoding of one model with its own cache: a prefill of the prompt, then one token per `step`."""

    def __init__(self, model, prompt: torch.Tensor):
        import inspect

        params = inspect.signature(model.forward).parameters
        self.model, self.key = model, "cache_params" if "cache_params" in params else "past_key_values"
        with torch.no_grad():
            out = model(input_ids=prompt, use_cache=True)
        self.cache, self.token = getattr(out, self.key), out.logits[:, -1:].argmax(-1)

    @torch.no_grad()
    def step(self) -> None:
        out = self.model(input_ids=self.token, use_cache=True, logits_to_keep=1, **{self.key: self.cache})
        self.token = out.logits[:, -1:].argmax(-1)


@torch.no_grad()
def decode_times(models: dict[Any, Any], prompt_length: int = 64, tokens: int = 32, rounds: int = 3) -> dict[Any, float]:
    """Measured end to end: median seconds per greedily decoded token of each model (a causal LM with a cache,
    batch 1) after the same prompt of `prompt_length` random tokens. The models take turns, round after round
    (one warm-up round first), so a slow spell of the machine hits all of them alike."""
    training = {name: model.training for name, model in models.items()}
    vocab = min(model.get_input_embeddings().num_embeddings for model in models.values())
    prompt = torch.randint(0, vocab, (1, prompt_length), generator=torch.Generator().manual_seed(0))
    times: dict[Any, list[float]] = {name: [] for name in models}
    try:
        for model in models.values():
            model.eval()
        for r in range(rounds + 1):
            for name, model in models.items():
                decoder = Decoder(model, prompt)
                begin = time.perf_counter()
                for _ in range(tokens):
                    decoder.step()
                if r:
                    times[name].append((time.perf_counter() - begin) / tokens)
    finally:
        for name, model in models.items():
            model.train(training[name])
    return {name: statistics.median(t) for name, t in times.items()}


def decode_seconds_per_token(model, prompt_length: int = 64, tokens: int = 32, repeats: int = 3) -> float:
    """Measured end to end: median seconds per greedily decoded token of one model (see `decode_times`)."""
    return decode_times({"model": model}, prompt_length, tokens, repeats)["model"]
