"""Tasks and data: MAD synthetics, Long Range Arena, language data, and the embedded corpus.

    from manticore import tasks
    tasks.names()
    task = tasks.get("mad/in-context-recall", preset="manticore-hard", seed=0)
"""

from .base import IGNORE_INDEX, SequenceDataset, Task, collate
from .registry import get, names, register

# Importing a task module registers its tasks.
from . import _all  # noqa: F401,E402

__all__ = ["IGNORE_INDEX", "SequenceDataset", "Task", "collate", "get", "names", "register"]
