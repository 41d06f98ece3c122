"""Tasks and data: MAD synthetics, Long Range Arena, language data (in memory or streamed), the embedded corpus.

    from manticore import tasks
    tasks.names()
    task = tasks.get("mad/in-context-recall", preset="manticore-hard", seed=0)
    print(tasks.TASKS["lm/stream"].help())   # its settings, as `manticore tasks lm/stream` prints them

Every task is a `TaskSpec` (spec.py) in the registry `TASKS`; registry.py lists the built-in task modules.
"""

from .base import IGNORE_INDEX, SequenceDataset, Task, collate
from .registry import check_settings, get, names, register
from .spec import TASKS, CommonSettings, Refusal, TaskSettingError, TaskSpec

__all__ = ["IGNORE_INDEX", "TASKS", "CommonSettings", "Refusal", "SequenceDataset", "Task", "TaskSettingError",
           "TaskSpec", "check_settings", "collate", "get", "names", "register"]
