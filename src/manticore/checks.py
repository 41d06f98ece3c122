"""The value checks every layer shares, with one wording for their errors.

    check_int(num_blocks, "num_blocks", minimum=1)
    # ValueError: num_blocks=0 is not valid; accepted: an integer >= 1.

Every failed check raises ValueError("{field}={value!r} is not valid[ in {where}]; accepted: {accepted}."), so
the message names the setting, the value given and what would be accepted. `where` names the section of a
config (e.g. "stages.sweep"). YAML's `true` is a bool, and a bool is never accepted as a number here.

Light on purpose (no torch, no numpy): settings, configs and the CLI's --help import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def is_int(value: Any) -> bool:
    """A Python integer, and not a bool (YAML's true is not a step count). numpy integers are not accepted: a
    setting must survive json.dumps (convert with int() first)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (numpy's float64 is a float), and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def invalid(field: str, value: Any, accepted: str, where: str | None = None) -> ValueError:
    """The error of every check: it names the field, the value and what is accepted."""
    return ValueError(f"{field}={value!r} is not valid{f' in {where}' if where else ''}; accepted: {accepted}.")


def check(condition: bool, field: str, value: Any, accepted: str, where: str | None = None) -> None:
    """Raise `invalid(field, value, accepted, where)` unless condition holds."""
    if not condition:
        raise invalid(field, value, accepted, where)


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    return f" <= {maximum}" if maximum is not None else ""


def check_int(value: Any, field: str, minimum: int | None = None, maximum: int | None = None,
              where: str | None = None) -> int:
    """value, if it is an integer (not a bool) within [minimum, maximum]; else a ValueError."""
    ok = is_int(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    check(ok, field, value, "an integer" + _bounds(minimum, maximum), where)
    return int(value)


def check_number(value: Any, field: str, minimum: float | None = None, maximum: float | None = None,
                 positive: bool = False, where: str | None = None) -> float:
    """value, if it is a finite number (not a bool) within [minimum, maximum] (and > 0 if positive)."""
    ok = is_number(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum) \
        and (not positive or value > 0)
    accepted = "a finite number" + (" > 0" if positive else "") + _bounds(minimum, maximum)
    check(ok, field, value, accepted, where)
    return float(value)


def check_one_of(value: Any, field: str, choices: Iterable[Any], where: str | None = None) -> Any:
    """value, if it is one of `choices` (compared with ==, and of the same type: True is not 1)."""
    choices = list(choices)
    check(any(value == c and type(value) is type(c) for c in choices), field, value,
          " or ".join(map(repr, choices)), where)
    return value
