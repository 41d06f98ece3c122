"""The registry of named tasks: the one list of the built-in task modules, and `get`, `names`, `register` and
`check_settings` over it.

    tasks.get("lra/listops", num_train=1000)          # spec.build(ListOpsSettings(num_train=1000), use_cache=True)
    check_settings("lm/stream", {"path": "/data/"})  # the settings only, no data read: run configs, offline
    tasks.register(TaskSpec(...))                     # a task of your own (spec.py shows one)

    @tasks.register("my/copy")                        # or a function whose keyword arguments are its settings
    def copy_task(length: int = 16, seed: int = 0) -> Task: ...

Each task module declares its tasks as a module-level tuple `TASKS` of `TaskSpec`s. Adding a task module is
one line in `BUILT_IN`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import completions, listops, lm, lra_image, lra_text, mad, pathfinder, streaming
from .spec import TASKS, TaskSpec

if TYPE_CHECKING:
    from .base import Task

BUILT_IN = (mad, listops, pathfinder, lra_text, lra_image, lm, streaming, completions)
for _module in BUILT_IN:
    for _spec in _module.TASKS:
        TASKS.register(_spec)


def register(spec: TaskSpec | str):
    """Add a TaskSpec under its name (a task of that name is replaced, with a warning); returns it.

    With a name, a decorator over a function whose keyword arguments are its settings, `@register("my/task")`
    (`TaskSpec.from_function`); it returns the function. A bare `@register` has no name to register under.
    """
    if callable(spec) and not isinstance(spec, (TaskSpec, type)):  # a function, as `@tasks.register` gives
        name = getattr(spec, "__name__", "your_function")
        raise TypeError(f"tasks.register takes a TaskSpec, or a task's name: write @tasks.register(\"my/task\") "
                        f"over {name}, not a bare @tasks.register (got {spec!r}).")
    if not isinstance(spec, str):
        return TASKS.register(spec)

    def add(function: Callable[..., Task]) -> Callable[..., Task]:
        TASKS.register(TaskSpec.from_function(spec, function))
        return function

    return add


def names() -> list[str]:
    """Every registered task name, sorted: 'lm/text', 'lra/listops', 'mad/in-context-recall', ..."""
    return sorted(TASKS)


def check_settings(name: str, settings: dict[str, Any]) -> None:
    """Build the settings of task `name` without building the task (no file, tokenizer or hub is touched).

    Unknown task: ValueError listing the tasks. A setting it does not take or of the wrong type:
    TaskSettingError (a TypeError and a ValueError). A bad value: ValueError naming it."""
    TASKS.get(name).settings_from(settings)


def get(name: str, **settings) -> Task:
    """The task `name` built with `settings`; errors name the value and what is accepted."""
    return TASKS.get(name).task(settings)
