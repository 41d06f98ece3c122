"""Statistics over seeds: mean ± std, and Welch's t-test between the hybrid and a component.

    summary = Summary.of([2.31, 2.35, 2.29])          # mean, sample std (ddof=1), n
    test = welch_test(hybrid_losses, gpt_neo_losses)  # None when either side has fewer than 2 seeds
    test.p < SIGNIFICANCE

Welch's test does not assume equal variances, so it is the right test for models trained with different
architectures, whose seed-to-seed spread differs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
from scipy import stats

SIGNIFICANCE = 0.05  # two-sided p below this is reported as a significant difference
MIN_SEEDS = 2  # a sample standard deviation (and so a t-test) needs at least two values per side


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof=1; nan for a single value) of n values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            raise ValueError("Summary.of needs at least one value, got none.")
        std = float(values.std(ddof=1)) if values.size >= MIN_SEEDS else math.nan
        return cls(float(values.mean()), std, int(values.size))


@dataclass(frozen=True)
class WelchTest:
    """Welch's two-sided t-test of mean(a) == mean(b): statistic t, Welch–Satterthwaite df, p-value."""

    t: float
    df: float
    p: float

    @property
    def significant(self) -> bool:
        return self.p < SIGNIFICANCE


def welch_test(a: Sequence[float], b: Sequence[float]) -> WelchTest | None:
    """Welch's t-test of a against b (t > 0 when mean(a) > mean(b)); None if a side has < 2 values.

    Both sides without any spread: equal means give p = 1 (no difference), different means give p = 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < MIN_SEEDS or b.size < MIN_SEEDS:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on (near-)constant samples
        result = stats.ttest_ind(a, b, equal_var=False)
    t, p, df = float(result.statistic), float(result.pvalue), float(result.df)
    if math.isnan(p):  # both sides constant and equal
        t, p = 0.0, 1.0
    return WelchTest(t=t, df=df, p=p)
