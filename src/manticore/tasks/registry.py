"""The registry of named tasks: `register` a builder under a name, `get` a Task by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from .base import Task

TASKS: dict[str, Callable[..., Task]] = {}


def register(name: str) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Decorator: register a function that builds a Task from keyword settings."""

    def add(builder: Callable[..., Task]) -> Callable[..., Task]:
        TASKS[name] = builder
        return builder

    return add


def names() -> list[str]:
    """Every registered task name, e.g. 'mad/in-context-recall', 'lra/listops', 'lm/text'."""
    return sorted(TASKS)


def check_settings(name: str, settings: dict) -> None:
    """Raise if `name` is not a registered task (ValueError) or takes none of some settings (TypeError)."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}. Registered tasks: {', '.join(names())}.")
    accepted = inspect.signature(TASKS[name]).parameters
    unknown = [k for k in settings if k not in accepted]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        raise TypeError(f"Task {name!r} got unknown setting(s) {unknown}; accepted: {', '.join(accepted)}.")
    validate = getattr(TASKS[name], "validate", None)  # a task that can check its values without building
    if validate is not None:
        validate(**settings)


def get(name: str, **settings) -> Task:
    """Build the task `name` with the given settings; errors name what is accepted."""
    check_settings(name, settings)
    return TASKS[name](**settings)
