"""How a task is declared: a `TaskSpec` (its name, settings dataclass, builder and one line of doc), and the
registry of them, `TASKS`.

    @dataclass(frozen=True, kw_only=True)
    class CopySettings:
        length: int = 16
        \"\"\"Tokens to copy.\"\"\"

        def __post_init__(self):
            check_int(self.length, "length", minimum=1, where="mine/copy")

    def copy_task(settings: CopySettings, use_cache: bool) -> Task: ...

    tasks.register(TaskSpec("mine/copy", CopySettings, copy_task, "Copy a random string."))
    tasks.get("mine/copy", length=8)     # copy_task(CopySettings(length=8), use_cache=True)

A task section (`task: {name: ..., setting: value}` in a run config, or tasks.get's keywords) becomes the
task's settings in four checks, each an error that names the value (`TaskSpec.settings_from`):

1. a setting the task `refuses` (a sibling task's, e.g. lm/text's `streaming: true`): why, and what to use
   instead; a value that asks for what the task does anyway (lm/text's `streaming: false`) is dropped;
2. a name the settings class has no field for, or a required one left out: the accepted names;
3. a value of the wrong type, checked against the field's annotation by `manticore.settings` (a path given
   from Python, a `pathlib.Path`, counts as its string);
4. a value the settings class's `__post_init__` refuses: a ValueError from `manticore.checks`,
   "{setting}={value!r} is not valid in {task}; accepted: ...".

1 to 3 raise `TaskSettingError`. `use_cache` is not a field of any task's settings: every task that caches its
data takes it (`CommonSettings`) and its builder receives it beside the settings.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import textwrap
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..checks import check, invalid
from ..registry import Registry
from ..settings import build, convert, describe, field_names, matches

if TYPE_CHECKING:
    from .base import Task


class TaskSettingError(TypeError, ValueError):
    """A setting a task does not take, or one of the wrong type. A TypeError, as a wrong keyword argument of a
    call is (tasks.get is one), and a ValueError, as every other mistake in a run config is."""


@dataclass(frozen=True)
class CommonSettings:
    """What every task that caches its data takes beside its own settings."""

    use_cache: bool = True
    """Read and write the dataset cache ($MANTICORE_CACHE, cache.py); false: build the data afresh, keep nothing."""


@dataclass(frozen=True)
class Refusal:
    """A setting a task does not take although a sibling task does (lm/text's `streaming`), and why."""

    reason: str
    """Why, and what to use instead; the error reads "Task 'lm/text' does not take {'streaming': True}: {reason}."."""
    when: Callable[[Any], bool] | None = None
    """Which values are refused (None: every value). Any other value is taken; if the settings class has no field
    of that name, it is dropped: `streaming: false` asks lm/text for what lm/text does anyway."""
    shown: str = ""
    """How `manticore tasks NAME` names the refused values, e.g. "true" (empty: every value)."""

    def refuses(self, value: Any) -> bool:
        return self.when is None or bool(self.when(value))


@dataclass(frozen=True)
class TaskSpec:
    """A task as the registry, `tasks.get`, run-config validation and `manticore tasks` see it."""

    name: str
    """Its registered name, e.g. "mad/in-context-recall"."""
    settings: type
    """Its settings dataclass: a docstring below every field; types checked from the annotations, values by
    its `__post_init__`."""
    build: Callable[[Any, bool], Task]
    """build(settings, use_cache) -> the Task: reads or generates the data (or loads it from the cache)."""
    doc: str
    """One line for `manticore tasks`."""
    refused: Mapping[str, str | Refusal] = field(default_factory=dict)
    """Settings of a sibling task that this one refuses, each with its own reason (a string: every value is
    refused) or a `Refusal` (lm/text refuses `streaming: true` and takes `streaming: false`)."""
    cached: bool = True
    """Whether the task caches its data, and so takes `use_cache` (a stream caches nothing)."""

    def __post_init__(self):
        _check_name(self.name)
        where = f"TaskSpec {self.name!r}"
        if not (isinstance(self.settings, type) and dataclasses.is_dataclass(self.settings)):
            raise TypeError(str(invalid("settings", self.settings, "a dataclass (the class itself) whose fields are "
                                        "the task's settings, e.g. @dataclass(frozen=True, kw_only=True) class "
                                        "MySettings: ... (spec.py shows one)", where)))
        if not callable(self.build):
            raise TypeError(str(invalid("build", self.build, "a function build(settings, use_cache) -> Task", where)))
        check(isinstance(self.doc, str) and bool(self.doc.strip()), "doc", self.doc,
              "one line of text for `manticore tasks`", where)
        if not isinstance(self.refused, Mapping) or not all(isinstance(r, (str, Refusal))
                                                            for r in self.refused.values()):
            raise TypeError(str(invalid("refused", self.refused, "a mapping {setting: reason (a string) or "
                                        "Refusal(reason, when)}", where)))
        object.__setattr__(self, "refused", {name: r if isinstance(r, Refusal) else Refusal(r)
                                             for name, r in self.refused.items()})  # frozen: normalised, once

    @classmethod
    def from_function(cls, name: str, function: Callable[..., Task]) -> TaskSpec:
        """The spec of a function that builds a Task from keyword settings (`@tasks.register(name)` over it): its
        parameters, with their annotations and defaults, are the settings; a `use_cache` parameter is the
        common one. Its docstring's first line is the doc (the name, if it has none)."""
        _check_name(name)
        parameters = inspect.signature(function).parameters
        odd = [p.name for p in parameters.values() if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if odd:
            raise TypeError(f"Task {name!r}: {function.__name__} takes {odd}; a task's settings are named keyword "
                            "arguments (or declare a TaskSpec with a settings dataclass).")
        try:
            hints = typing.get_type_hints(function)
        except (NameError, TypeError):  # e.g. a name imported under TYPE_CHECKING: the settings go unchecked
            hints = {}
        settings = dataclasses.make_dataclass(
            f"{function.__name__}_settings", [_field(p, hints.get(p.name, Any)) for p in parameters.values()
                                              if p.name != "use_cache"], frozen=True, kw_only=True)
        cached = "use_cache" in parameters

        def build(values: Any, use_cache: bool = True) -> Task:
            given = {f.name: getattr(values, f.name) for f in dataclasses.fields(values)}
            return function(**given, **({"use_cache": use_cache} if cached else {}))

        lines = (function.__doc__ or "").strip().splitlines()
        return cls(name, settings, build, lines[0].strip() if lines else name, cached=cached)

    def accepted(self) -> list[str]:
        """Every setting name the task takes, in the order its settings class declares them."""
        return field_names(self.settings) + (["use_cache"] if self.cached else [])

    def settings_from(self, values: Mapping[str, Any]) -> tuple[Any, bool]:
        """A task section's values (its `name` left out) -> (the settings dataclass, use_cache). Touches no file."""
        values = {name: _plain(value) for name, value in values.items()}
        self._check_names(values)
        use_cache = values.pop("use_cache", True)
        _check_types(CommonSettings, {"use_cache": use_cache}, self.name)
        _check_types(self.settings, values, self.name)
        return build(self.settings, values, self.name), use_cache

    def task(self, values: Mapping[str, Any]) -> Task:
        """The Task these settings describe (`tasks.get`)."""
        from .base import Task  # torch: only once a task is built

        settings, use_cache = self.settings_from(values)
        task = self.build(settings, use_cache)
        if not isinstance(task, Task):
            raise TypeError(f"Task {self.name!r}: its builder {getattr(self.build, '__name__', self.build)!r} "
                            f"returned {task!r:.80}, not a tasks.Task.")
        return task

    def help(self) -> str:
        """`manticore tasks NAME`: the doc line, then every setting with its default, type and docstring."""
        listing = describe(self.settings)
        if self.cached:
            listing = "\n".join(part for part in (listing, describe(CommonSettings)) if part)
        refused = "".join("\n" + textwrap.fill(f"(not taken: {name}{f' = {r.shown}' if r.shown else ''}: {r.reason})",
                                                110, initial_indent="  ", subsequent_indent="   ")
                          for name, r in self.refused.items())
        return (f"{self.name}: {self.doc}\n\nSettings (`task: {{name: {self.name}, SETTING: VALUE}}` in a run "
                f"config, or tasks.get keywords), with their defaults:\n{listing or '  (none)'}{refused}")

    def _check_names(self, values: dict[str, Any]) -> None:
        """Refused settings, unknown names and missing ones; drops a refused setting's harmless value."""
        accepted = self.accepted()
        refused = {name: value for name, value in values.items()
                   if name in self.refused and self.refused[name].refuses(value)}
        if refused:
            reasons = [f"{name}: {self.refused[name].reason}" if len(refused) > 1 else self.refused[name].reason
                       for name in refused]  # each setting with its own reason only
            raise TaskSettingError(f"Task {self.name!r} does not take {refused}: {'; '.join(reasons)}.")
        for name in [n for n in values if n in self.refused and n not in accepted]:
            del values[name]  # e.g. lm/text's streaming: false, what lm/text does anyway
        unknown = [name for name in values if name not in accepted]
        if unknown:
            raise TaskSettingError(f"Task {self.name!r} got unknown setting(s) {unknown}; "
                                   f"accepted: {', '.join(accepted)}.")
        missing = [f.name for f in dataclasses.fields(self.settings) if f.init and f.name not in values
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise TaskSettingError(f"Task {self.name!r} needs the setting(s) {missing} "
                                   f"(`manticore tasks {self.name}` describes them).")


def _check_name(name: Any) -> None:
    check(isinstance(name, str) and bool(name.strip()), "name", name,
          "a non-empty task name, e.g. TaskSpec('my/task', ...) or @tasks.register('my/task')", "a TaskSpec")


def _plain(value: Any) -> Any:
    """A setting's value as a config holds it: a path given from Python (os.PathLike) is its string."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, os.PathLike) for v in value):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict) and any(isinstance(v, os.PathLike) for v in value.values()):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _field(parameter: inspect.Parameter, hint: Any) -> tuple:
    """A function parameter as a dataclass field (name, type, field); a type `settings` can't check is Any."""
    try:
        matches(None, hint)
    except TypeError:  # e.g. Mapping[str, str]: isinstance can't check a subscripted generic
        hint = Any
    default = parameter.default
    if default is inspect.Parameter.empty:
        return parameter.name, hint, field()
    if isinstance(default, (list, dict, set)):  # a dataclass refuses a mutable default: copy it per instance
        return parameter.name, hint, field(default_factory=lambda: copy.copy(default))
    return parameter.name, hint, field(default=default)


def _check_types(cls: type, values: Mapping[str, Any], where: str) -> None:
    """Every value against its field's annotation, as `settings.build` checks it, raising TaskSettingError."""
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        try:
            convert(value, hints[name], name, where)
        except ValueError as err:
            raise TaskSettingError(str(err)) from None


# The registry of tasks, keyed by name; the built-in ones register in registry.py.
TASKS: Registry[TaskSpec] = Registry("task", names_of=lambda spec: spec.name,
                                     check=lambda spec: isinstance(spec, TaskSpec),
                                     accepted="a TaskSpec(name, settings, build, doc)")
