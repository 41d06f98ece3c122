"""Seeded random number generators for the generated tasks: one independent numpy generator per (seed, stream).

A stream of random numbers (not a streamed corpus: that is streaming.py) is usually a split ("train",
"test", ...), so that one split never reuses another's random numbers and a split's data do not depend on
the other splits' sizes. Each task family numbers its streams in a table below; the generator for
(seed, stream) is `np.random.default_rng([seed, number])`.

The numbers are part of the data: changing one changes every dataset generated from it (and a cached
dataset would no longer match its settings), so they are fixed. The two families number their splits
differently for that reason, and a new stream gets a new number in its family's table.

    rng = split_rng(seed, "test", MAD_STREAMS)
"""

from __future__ import annotations

from types import MappingProxyType
from collections.abc import Mapping

import numpy as np

MAD_STREAMS: Mapping[str, int] = MappingProxyType({"train": 0, "test": 1, "map": 2, "validation": 3})
"""MAD synthetics (mad.py): the three splits, and memorization's fixed key -> value map."""

LRA_STREAMS: Mapping[str, int] = MappingProxyType({"train": 0, "validation": 1, "test": 2})
"""Long Range Arena tasks (listops.py, pathfinder.py): the three splits."""


def split_rng(seed: int, stream: str, streams: Mapping[str, int]) -> np.random.Generator:
    """The generator of `stream` (a name in the family's table `streams`) for `seed`."""
    if stream not in streams:
        raise ValueError(f"Unknown random stream {stream!r}; accepted: {', '.join(map(repr, streams))}.")
    return np.random.default_rng([seed, streams[stream]])
