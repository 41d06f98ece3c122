"""The training library: one engine for every stage (engine.py, the loop), its losses and metrics (metrics.py),
checkpoints (checkpoints.py), seeding, search algorithms (search/, one file each), optimizers, processes and
sharding (parallel.py), data streams (data.py) and trackers. The workflow that uses it (stages,
run configs, experiments) is `manticore.workflow`; `stages.py`, `run_config.py`, `experiments.py`, `rundir.py`
and `settings.py` here are old paths that still work for one release.

Names load on first use, so the CLI can read the settings without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig
    from .engine import Engine
    from .metrics import evaluate_model
    from .search import SearchAlgorithm, SearchConfig, register_algorithm

_EXPORTS = {"Engine": ".engine", "TrainConfig": ".config", "SearchConfig": ".search",
            "SearchAlgorithm": ".search", "register_algorithm": ".search", "evaluate_model": ".metrics"}

__all__ = ["Engine", "SearchAlgorithm", "SearchConfig", "TrainConfig", "evaluate_model", "register_algorithm"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
