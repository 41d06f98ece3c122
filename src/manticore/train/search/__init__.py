"""Search algorithms for the mixture weights (paper, Appendix B.5): one registry entry each.

A `SearchAlgorithm` owns everything about how the architecture parameters a (α = softmax(a), shape (L, K))
are searched:

- its hyperparameters (a settings dataclass, `Hyperparameters`), given as `search.hyperparameters`;
- its optimizer for a (`optimizer`);
- how α is sampled in a training forward (`sample`; evaluation always uses α = softmax(a));
- the order of architecture and model steps (`train_step`): simultaneous (one backward updates both) or
  alternating (an architecture step, then a model step), optionally bilevel (architecture steps on batches
  from a held-out split).

    DARTS   (Liu et al., 2019)    AdamW on a through the softmax
    GAEA    (Li et al., 2021)     exponentiated gradient on the simplex (`optim.ExponentiatedGradient`)
    Gumbel  (Xie et al., 2019)    DARTS' updates; training forwards use α ~ Gumbel-softmax(a, temperature)
    single-path (Guo et al., 2020)  α doesn't train; each training forward runs one uniformly drawn layout,
                                  and `search.select: validation` chooses among the layouts

Adding an algorithm is one file beside these (a `SearchAlgorithm` subclass) plus one line in `BUILT_IN`
below, or, from your own code, one decorator (`ALGORITHMS` is a `manticore.registry.Registry`):

    @register_algorithm
    class MyAlgorithm(SearchAlgorithm):
        name = "mine"
        def optimizer(self, params, lr): ...

The engine calls `train_step(engine)` once per step and never branches on the algorithm's name. This module
imports torch only when an algorithm runs, so the CLI can describe the settings quickly.
"""

from __future__ import annotations

from .base import ALGORITHMS, NoHyperparameters, SearchAlgorithm, SearchConfig
from .cost import CostSettings
from .darts import DARTS
from .gaea import GAEA
from .gumbel import GumbelHyperparameters, GumbelSoftmax
from .single_path import SinglePath

BUILT_IN = (DARTS, GAEA, GumbelSoftmax, SinglePath)  # one line per algorithm file
for _algorithm in BUILT_IN:
    ALGORITHMS.register(_algorithm)

register_algorithm = ALGORITHMS.register  # @register_algorithm: add a SearchAlgorithm subclass under its `name`

__all__ = ["ALGORITHMS", "BUILT_IN", "CostSettings", "DARTS", "GAEA", "GumbelHyperparameters", "GumbelSoftmax",
           "NoHyperparameters",
           "SearchAlgorithm", "SinglePath", "SearchConfig", "register_algorithm"]
