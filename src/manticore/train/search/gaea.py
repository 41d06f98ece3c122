"""GAEA (Li et al., 2021): exponentiated gradient on the simplex (`optim.ExponentiatedGradient`)."""

from __future__ import annotations

from .base import SearchAlgorithm


class GAEA(SearchAlgorithm):
    """Li et al., 2021: exponentiated gradient on the simplex."""

    name = "gaea"

    def optimizer(self, params, lr):
        from ..optim import ExponentiatedGradient

        return ExponentiatedGradient(params, lr=lr)
