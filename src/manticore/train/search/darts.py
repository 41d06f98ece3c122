"""DARTS (Liu et al., 2019): AdamW on the mixture-weight logits a, through the softmax α = softmax(a)."""

from __future__ import annotations

from .base import SearchAlgorithm


class DARTS(SearchAlgorithm):
    """Liu et al., 2019: AdamW on the logits, through the softmax (the interface's defaults)."""

    name = "darts"
