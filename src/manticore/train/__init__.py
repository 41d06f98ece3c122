"""The training library: one engine for every stage (engine.py), search algorithms (search/, one file each),
optimizers, processes and sharding (parallel.py), data streams and trackers. The workflow that uses it (stages,
run configs, experiments) is `manticore.workflow`.

Names load on first use, so the CLI can read the settings without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig
    from .engine import Engine
    from .search import SearchAlgorithm, SearchConfig, register_algorithm

_EXPORTS = {"Engine": ".engine", "TrainConfig": ".config", "SearchConfig": ".search",
            "SearchAlgorithm": ".search", "register_algorithm": ".search"}

__all__ = ["Engine", "SearchAlgorithm", "SearchConfig", "TrainConfig", "register_algorithm"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
