"""Choosing the layout a search commits to (`search.select`).

'argmax' takes what α points to: each block's most probable component (with a budget, the most probable layout
that meets it). 'validation' compares the layouts themselves: each candidate runs with the searched weights,
one-hot in every block (so exactly the layout, every other branch skipped), on the task's validation split, and
the one with the lowest loss wins. α then only has to train the weights, not to rank the layouts, which it
does poorly when one branch lowers the loss first and the best layout needs longer (the early leader).

The candidates are every layout of the space (those within the budget, if there is one) when there are at most
`EXHAUSTIVE` of them; beyond that, coordinate descent from α's choice: each block in turn takes the component
that is best with the others held, until a sweep changes nothing.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING
from collections.abc import Callable

if TYPE_CHECKING:
    from ..engine import Engine

EXHAUSTIVE = 64
"""The most layouts 'validation' evaluates one by one; larger spaces are searched block by block."""
MAX_SWEEPS = 3


def validation_layout(engine: Engine, start: list[int], allowed: Callable[[list[int]], bool] | None = None) -> list[int]:
    """The layout with the lowest validation loss under the engine's current weights.

    start: α's own choice (where coordinate descent starts, and the tie-breaker); allowed: whether a layout may
    be chosen (a budget); every layout is allowed without one. Logs each evaluated layout's loss as a record
    {"split": "validation", "layout": [...], "loss": ...} in the run's metrics. α is restored afterwards.
    """
    import torch

    from ..metrics import evaluate_model

    task = engine.task
    if task.validation is None:
        raise ValueError(f"search.select='validation' needs a held-out split, and task {task.name!r} has no "
                         "validation split; accepted: select='argmax', or a task with one (MAD, LRA, text "
                         "tasks with validation_fraction > 0).")
    logits = engine.arch[0]  # the mixture weights' logits a (L, K)
    L, K = logits.shape
    allowed = allowed or (lambda layout: True)
    pruned = logits.detach() == float("-inf")  # branches already at exactly zero stay out
    usable = [[k for k in range(K) if not pruned[l, k]] for l in range(L)]
    saved = logits.detach().clone()
    losses: dict[tuple[int, ...], float] = {}

    def loss(layout: list[int]) -> float:
        key = tuple(layout)
        if key not in losses:
            one_hot = torch.zeros(L, K)
            one_hot[torch.arange(L), torch.tensor(layout)] = 1.0
            engine.model.set_mixture_weights(one_hot)
            with engine._autocast():
                losses[key] = evaluate_model(engine.model, task, "validation", engine.config.batch_size,
                                             engine.config.eval_batches)["loss"]
            engine.log({"step": engine.step, "split": "validation", "layout": layout, "loss": losses[key]})
        return losses[key]

    try:
        space = 1
        for row in usable:
            space *= len(row)
        if space <= EXHAUSTIVE:
            candidates = [list(c) for c in itertools.product(*usable) if allowed(list(c))]
            return min(candidates or [start], key=lambda c: (loss(c), c != start))
        best = list(start)
        for _ in range(MAX_SWEEPS):
            before = list(best)
            for l in range(L):
                options = [best[:l] + [k] + best[l + 1:] for k in usable[l]]
                best = min([c for c in options if allowed(c)] or [best], key=lambda c: (loss(c), c != best))
            if best == before:
                break
        return best
    finally:
        with torch.no_grad():
            logits.copy_(saved)
        engine.model.train()
