"""One registry mechanism for everything that is chosen by name: model families, search algorithms, tasks and
stages.

    from manticore.components import ADAPTERS      # families, keyed by config.model_type
    from manticore.train.search import ALGORITHMS  # search algorithms, keyed by their `name`
    from manticore.tasks import TASKS              # tasks, keyed by their `name`
    from manticore.workflow.stages import STAGES   # stages, keyed by their `name`, in workflow order

    ALGORITHMS.names()          # every name, in registration order
    ALGORITHMS.get("darts")     # the entry; an unknown name is a ValueError that lists the accepted ones
    @ALGORITHMS.register        # add your own (also as a plain call: ALGORITHMS.register(MyAlgorithm))
    class MyAlgorithm(SearchAlgorithm):
        name = "mine"

Every registry lists its built-in entries in one place (its package's registry module), and each entry carries
its own name(s), so registering never repeats a name. A registry reads as a mapping {name: entry}; it changes only
through `register` and `pop`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")
_NO_DEFAULT = object()


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one kind by name. `names_of(entry)` gives the name(s) an entry registers under; `check(entry)`
    raises TypeError for something that is not an entry of this kind."""

    def __init__(self, kind: str, names_of: Callable[[T], str | Iterable[str]],
                 check: Callable[[object], bool] | None = None, accepted: str = ""):
        self.kind, self._names_of, self._check, self._accepted = kind, names_of, check, accepted
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        """Add `entry` under its name(s); returns it, so it decorates. A name already taken by another entry is
        replaced, with a warning that names both (replacing a built-in on purpose is allowed)."""
        if self._check is not None and not self._check(entry):
            raise TypeError(f"A {self.kind} registry takes {self._accepted or f'a {self.kind}'}, got {entry!r}.")
        names = self._names_of(entry)
        names = [names] if isinstance(names, str) else list(names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"A {self.kind} needs a non-empty name to register, got {names!r} from {entry!r}.")
        for name in names:
            if name in self._entries and self._entries[name] is not entry:
                warnings.warn(f"{self.kind} {name!r} was {self._entries[name]!r}; it is now {entry!r}.", stacklevel=3)
            self._entries[name] = entry
        return entry

    def get(self, name: str, default=_NO_DEFAULT) -> T:
        """The entry `name`; a ValueError lists the accepted names (a default, if given, is returned instead).
        Unlike a plain Mapping's get, an unknown name raises unless a default is given: the registry's lookup."""
        if isinstance(name, str) and name in self._entries:
            return self._entries[name]
        if default is not _NO_DEFAULT:
            return default
        raise ValueError(f"Unknown {self.kind} {name!r}; accepted: {', '.join(self.names())}.")

    def pop(self, name: str, default=_NO_DEFAULT) -> T:
        """Remove the entry `name` and return it (a ValueError for an unknown name, unless a default is given)."""
        entry = self.get(name, default)
        self._entries.pop(name, None)
        return entry

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
