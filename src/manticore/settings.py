"""Typed settings: build a settings dataclass from a YAML mapping, checking every field's name and type.

    settings = build(SweepSettings, {"grid_step": 0.5, "per_block": "maybe"}, "stages.sweep")
    # ValueError: per_block='maybe' is not valid in stages.sweep; accepted: true or false.

A settings class is a plain dataclass with a docstring (a string literal) below every field, as in litgpt's
`args.py`; `build` checks the names and the types its annotations declare (int, float, bool, str, Literal,
X | None, list[X], dict[str, X], nested settings dataclasses, Any), and the class's `__post_init__` checks
values (ranges, combinations). `describe` lists the fields with their defaults and docstrings for `--help`.

This module is deliberately light (no torch): the CLI builds every stage's `--help` from it.
"""

from __future__ import annotations

import ast
import collections.abc
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from typing import Any, Literal, Union

from .checks import is_int, is_number


def build(cls: type, values: dict[str, Any] | None, where: str):
    """cls(**values) after checking that every key is a field of cls and every value has the field's type.

    Nested settings dataclasses are built from their own mappings (their section: f"{where}.{field}").
    `where` names the section in errors, e.g. "stages.sweep".
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping of settings, got {values!r}; "
                         f"accepted fields: {', '.join(field_names(cls))}.")
    known = field_names(cls)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"Unknown field(s) {unknown} in {where}; accepted: "
                         f"{', '.join(sorted(known)) or 'none (it has no settings)'}.")
    hints = typing.get_type_hints(cls)
    checked = {name: convert(value, hints[name], name, where) for name, value in values.items()}
    return cls(**checked)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def convert(value: Any, hint: Any, name: str, where: str) -> Any:
    """`value` checked against the type `hint` (nested dataclasses built); a ValueError names the field."""
    if isinstance(value, dict):  # a nested settings dataclass (or an optional one: X | None)
        nested = [h for h in ([hint] + list(typing.get_args(hint))) if dataclasses.is_dataclass(h)]
        if nested:
            return build(nested[0], value, f"{where}.{name}" if where else name)
    if not matches(value, hint):
        raise ValueError(f"{name}={value!r} is not valid{f' in {where}' if where else ''}; "
                         f"accepted: {describe_type(hint)}.")
    return value


def matches(value: Any, hint: Any) -> bool:
    """Whether `value` has the type `hint` (ints count as floats; bools count as neither)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(matches(value, arg) for arg in args)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin in (list, tuple, collections.abc.Sequence):
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(matches(v, item) for v in value)
    if origin is dict:
        key, item = args if args else (Any, Any)
        return isinstance(value, dict) and all(matches(k, key) and matches(v, item) for k, v in value.items())
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:  # finite: a run can't train with lr: .inf
        return is_number(value)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return isinstance(value, hint)


def describe_type(hint: Any) -> str:
    """A type in words, for errors and --help: 'an integer', 'a number or null', "'metadata' or 'proxy'"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "anything"
    if hint is None or hint is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(arg) for arg in args)
    if origin is Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list of {_plural(describe_type(args[0]))}" if args else "a list"
    if origin is dict:
        return "a mapping" + (f" of {_plural(describe_type(args[1]))}" if args and args[1] is not Any else "")
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {hint.__name__} fields"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(hint, hint.__name__)


def _plural(words: str) -> str:
    return {"an integer": "integers", "a number": "numbers", "a string": "strings"}.get(words, words)


# -- documentation ------------------------------------------------------------------------------------------------
@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """{field: its docstring} from the class source (the string literal below each field), bases included."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                    isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and \
                    isinstance(after.value.value, str):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _nested(hint: Any) -> type | None:
    """The settings dataclass a field holds (`X` or `X | None`), or None."""
    return next((h for h in [hint, *typing.get_args(hint)] if dataclasses.is_dataclass(h)), None)


def describe(cls: type, indent: str = "  ") -> str:
    """Every field of a settings class: `name: default   [type]`, then its docstring; the fields of nested
    settings classes (e.g. `train`, or an optional `cost`) follow, indented."""
    docs, hints = field_docs(cls), typing.get_type_hints(cls)
    lines = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint = hints[field.name]
        nested = _nested(hint)
        if dataclasses.is_dataclass(hint):
            lines.append(f"{indent}{field.name}:   [{hint.__name__}]")
        else:
            default = default_of(field)
            shown = "(required)" if default is dataclasses.MISSING else _yaml(default)
            lines.append(f"{indent}{field.name}: {shown}   [{describe_type(hint)}]")
        if field.name in docs:
            lines += textwrap.wrap(docs[field.name], 100, initial_indent=indent * 3, subsequent_indent=indent * 3)
        if nested is not None:
            lines.append(describe(nested, indent + "    "))
    return "\n".join(lines)


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if dataclasses.is_dataclass(value):
        return "{...}"
    return repr(value) if isinstance(value, str) else str(value)


def to_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a plain (YAML/JSON-ready) dict."""
    return dataclasses.asdict(settings)
