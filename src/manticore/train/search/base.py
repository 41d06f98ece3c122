"""What a search algorithm is (`SearchAlgorithm`), how a run configures one (`SearchConfig`), and the registry of
algorithms (`ALGORITHMS`; the built-in ones register in this package's `__init__`).

This module imports torch only when an algorithm runs, so the CLI can describe the settings quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ...checks import check, is_number
from ...registry import Registry
from ...settings import build
from .cost import CostPenalty, CostSettings

if TYPE_CHECKING:
    import torch

    from ..engine import Engine


@dataclass
class SearchConfig:
    """How the mixture weights are searched (DARTS-style, paper Appendix B.5)."""

    algorithm: str = "darts"
    """A registered search algorithm: 'darts' (softmax, AdamW), 'gaea' (exponentiated gradient on the simplex)
    'gumbel' (Gumbel-softmax samples of α in training forwards), 'single-path' (α fixed, one uniformly drawn
    layout per training forward; needs select='validation'), or one you registered."""
    updates: Literal["simultaneous", "alternating"] = "simultaneous"
    """'simultaneous' (one backward for both) or 'alternating' (an architecture step, then a model step)."""
    bilevel: bool = False
    """Architecture steps take batches from a held-out split (the task's validation split); needs
    updates='alternating'."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """The algorithm's own settings, e.g. {temperature: 0.5} for gumbel (`manticore search --help` lists them)."""
    select: Literal["argmax", "validation"] = "argmax"
    """How the search chooses the layout it commits to (commit_at) or reports: 'argmax', what α points to (each
    block's most probable component; with a budget, the most probable layout that meets it); 'validation', the
    layout (within the budget) whose validation loss is lowest with the searched weights, each evaluated alone
    (select.py; needs a task with a validation split)."""
    cost: CostSettings | None = None
    """What the result may cost (CostSettings): a penalty on E_α[cost] and/or a budget; null: cost plays no part."""
    arch_start: float = 0.0
    """The fraction of the steps that train the weights only, at the initial α (uniform), before α moves: the
    branches learn before the search compares them, so it doesn't follow the one that merely learns first."""
    commit_at: float | None = None
    """At this fraction of the steps, α becomes exactly the layout it points to (each block's argmax, or with a
    budget the layout that meets it) and the remaining steps train that layout, so the search ends in a discrete
    layout; 1: after the last step (retrain then trains that layout from the pre-search weights, the paper's
    discretize-and-retrain); null: the search ends with the mixture."""

    def __post_init__(self):
        check(self.algorithm in ALGORITHMS, "search.algorithm", self.algorithm, ", ".join(ALGORITHMS))
        check(self.updates in ("simultaneous", "alternating"), "search.updates", self.updates,
              "'simultaneous' or 'alternating'")
        check(not (self.bilevel and self.updates == "simultaneous"), "search.bilevel", self.bilevel,
              "bilevel=true only with updates='alternating' (a simultaneous step has one batch)")
        self.algorithm_class().parse_hyperparameters(self.hyperparameters)  # fail now, not mid-run
        check(is_number(self.arch_start) and 0 <= self.arch_start < 1, "search.arch_start", self.arch_start,
              "a fraction of the steps in [0, 1)")
        check(self.commit_at is None or self.arch_start < self.commit_at, "search.arch_start", self.arch_start,
              f"a fraction below commit_at ({self.commit_at})")
        check(self.commit_at is None or (is_number(self.commit_at) and 0 < self.commit_at <= 1), "search.commit_at",
              self.commit_at, "a fraction of the steps in (0, 1], or null")
        check(self.select in ("argmax", "validation"), "search.select", self.select, "'argmax' or 'validation'")
        if not self.algorithm_class().learns_alphas:
            where = f"search.algorithm={self.algorithm!r}, which does not train α"
            check(self.select == "validation", "search.select", self.select, f"'validation' with {where}")
            check(self.commit_at is not None, "search.commit_at", self.commit_at, f"a fraction with {where}")
            check(self.cost is None or self.cost.weight == 0, "search.cost.weight",
                  None if self.cost is None else self.cost.weight, f"0 with {where} (a budget is accepted)")

    def algorithm_class(self) -> type[SearchAlgorithm]:
        return ALGORITHMS[self.algorithm]

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "updates": self.updates, "bilevel": self.bilevel,
                "hyperparameters": dict(self.hyperparameters),
                "cost": None if self.cost is None else self.cost.to_dict(), "commit_at": self.commit_at,
                "arch_start": self.arch_start, "select": self.select}

    def build(self) -> SearchAlgorithm:
        """The configured algorithm."""
        return self.algorithm_class()(self)


@dataclass
class NoHyperparameters:
    """This algorithm has no hyperparameters of its own."""


class SearchAlgorithm:
    """The interface: hyperparameters, optimizer, α sampler and step order. Defaults are DARTS'."""

    name: ClassVar[str] = ""
    Hyperparameters: ClassVar[type] = NoHyperparameters
    learns_alphas: ClassVar[bool] = True
    """False: α never steps (the algorithm only samples layouts from it); choosing needs select='validation'."""

    def __init__(self, config: SearchConfig):
        self.config = config
        self.hyperparameters = self.parse_hyperparameters(config.hyperparameters)
        self.penalty: CostPenalty | None = None  # built on the first step of a search with `cost`
        self.logged: dict[str, float] = {}  # what the step adds to the metrics log (the expected cost)

    @classmethod
    def parse_hyperparameters(cls, values: dict[str, Any]):
        """The typed hyperparameters; a ValueError names a bad one."""
        return build(cls.Hyperparameters, values, f"search.hyperparameters (of algorithm {cls.name!r})")

    def optimizer(self, params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
        """The optimizer of the mixture-weight logits a."""
        import torch

        return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)

    def sample(self, logits: torch.Tensor) -> torch.Tensor:
        """α for a training forward from logits a (L, K) -> (L, K); rows on the simplex."""
        return logits.softmax(-1)

    def train_step(self, engine: Engine) -> dict[str, float]:
        """One step of both the model and α; returns the summed stats of the model step's batches. From
        `commit_at` on, α is the committed layout and only the model trains; before `arch_start`, α stays as it
        started and only the model trains."""
        if self.committed(engine) or engine.step < round(self.config.arch_start * engine.config.max_steps):
            stats = engine.backward(engine.stream)  # α fixed: the committed layout, or the initial α (warm-up)
            engine.update(["model"])
            return stats
        if not self.learns_alphas:
            stats = engine.backward(engine.stream, self.sample)
            engine.update(["model"])
            return stats
        if self.config.updates == "alternating" and "arch" in engine.optimizers:
            engine.backward(engine.arch_stream or engine.stream, self.sample)  # arch_stream: bilevel
            engine.update(["arch"])
            self.after_architecture_step(engine)
            stats = engine.backward(engine.stream, self.sample)
            engine.update(["model"])
        else:
            stats = engine.backward(engine.stream, self.sample)
            engine.update(["model", "arch"])
            self.after_architecture_step(engine)
        return stats

    # -- committing to a layout (search.commit_at) -------------------------------------------------------------
    def committed(self, engine: Engine) -> bool:
        """Whether α is committed at this step; commits it (exactly one-hot, frozen) when the step comes."""
        at = self.config.commit_at
        if at is None or "arch" not in engine.optimizers or engine.step < round(at * engine.config.max_steps):
            return False
        self.commit(engine)
        return True

    def commit(self, engine: Engine) -> None:
        """α ← the layout it points to, exactly (a no-op once it is one-hot)."""
        logits = engine.arch[0]
        if not bool((_zeros_per_row(logits) == logits.shape[1] - 1).all()):
            commit(logits, self.layout(engine))

    def layout(self, engine: Engine) -> list[int]:
        """The layout to commit to: the most probable one under α that meets the budget, if there is one
        (select='argmax'), or among those within the budget the one with the lowest validation loss
        (select='validation', select.py)."""
        import torch

        from .select import validation_layout

        alphas = torch.softmax(engine.arch[0].detach(), dim=-1)
        cost, allowed = self.config.cost, None
        if cost is None or cost.budget is None:
            choice = alphas.argmax(-1).tolist()
        else:
            if self.penalty is None:
                self.penalty = CostPenalty(cost, engine.model, engine.out_dir, engine.world)
            budget, costs = cost.budget * self.penalty.unit, self.penalty.costs
            choice = costs.best_layout(alphas, cost.measure, budget, cost.context)

            def allowed(layout):
                return costs.cost(layout, cost.measure, cost.context) <= budget
        return choice if self.config.select == "argmax" else validation_layout(engine, choice, allowed)

    # -- cost (search.cost; see cost.py) ---------------------------------------------------------------------
    def after_architecture_step(self, engine: Engine) -> None:
        """With `search.cost`: the penalty's own step on α (at the architecture learning rate), then exact zeros
        for the branches it pushed under `prune_below`."""
        if self.config.cost is None or "arch" not in engine.optimizers:
            return
        if self.penalty is None:
            self.penalty = CostPenalty(self.config.cost, engine.model, engine.out_dir, engine.world)
        lr = engine.optimizers["arch"].param_groups[0]["lr"]
        self.logged = self.penalty.step(engine.arch[0], lr)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the algorithm between steps (the budget's multiplier)."""
        return {"cost_multiplier": None if self.penalty is None else self.penalty.multiplier}

    def load_state_dict(self, state: dict[str, Any], engine: Engine) -> None:
        if state.get("cost_multiplier") is not None and self.config.cost is not None:
            self.penalty = CostPenalty(self.config.cost, engine.model, engine.out_dir, engine.world)
            self.penalty.multiplier = float(state["cost_multiplier"])


def _zeros_per_row(logits):
    """Per row, how many logits are -inf (exact zeros of α)."""
    return (logits == float("-inf")).sum(-1)


def commit(logits, layout: list[int]) -> None:
    """α ← the one-hot layout, exactly: the chosen logit 0, every other -inf."""
    import torch

    with torch.no_grad():
        logits.fill_(float("-inf"))
        logits[torch.arange(len(layout)), torch.tensor(layout)] = 0.0


ALGORITHMS: Registry[type[SearchAlgorithm]] = Registry(
    "search algorithm", names_of=lambda cls: cls.name,
    check=lambda cls: isinstance(cls, type) and issubclass(cls, SearchAlgorithm) and bool(cls.name),
    accepted="a SearchAlgorithm subclass with a non-empty `name`")
