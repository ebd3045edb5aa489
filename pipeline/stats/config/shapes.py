"""The generic shapes every section is made of (mappings, names, lists, references to other
sections), and the one way a section fails: :meth:`Shapes.fail` raises :class:`ConfigError` with the
file, the entry and the problem."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from pipeline.stats.config.schema import ConfigError

# ------------------------------------------------------------------------------------------ helpers


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest known name, or nothing."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    match = lowered.get(word.lower())
    if match is None:
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f" (did you mean {match!r}?)" if match else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class Shapes:
    """The base of every section parser: the file name errors start with, and the generic shapes."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def mapping(self, value: Any, where: str) -> Mapping:
        if value is None:  # `section:` with nothing under it
            return {}
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping, found {_kind(value)}")
        return value

    def name(self, key: Any, where: str) -> str:
        """A mapping key used as a name or an id: YAML turns `1001:` into an int, so ints are accepted."""
        if isinstance(key, bool) or not isinstance(key, str | int) or str(key).strip() == "":
            self.fail(where, f"a name must be a non-empty string, found {key!r}")
        return str(key).strip()

    def known_keys(self, value: Mapping, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.fail(
                    _join(where, str(key)),
                    f"unknown key{_suggest(str(key), allowed)}; expected one of " + ", ".join(allowed),
                )

    def count(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(where, f"expected a non-negative whole number, found {value!r}")
        return value

    def string_list(self, value: Any, where: str) -> list[str]:
        """A YAML list of strings, or one comma-separated string (Stat Server's option style)."""
        if value is None:  # `RelMask:` with nothing after it
            items = []
        elif isinstance(value, str):
            items = [part.strip() for part in value.split(",")] if value.strip() else []
        elif isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item.strip():
                    self.fail(f"{where}[{i}]", f"expected a non-empty string, found {item!r}")
                items.append(item.strip())
        else:
            self.fail(where, f"expected a list or a comma-separated string, found {_kind(value)}")
        for i, item in enumerate(items):
            if not item:
                self.fail(where, f"empty item at position {i + 1}")
        return items

    def reference(self, value: Any, table: Mapping[str, Any], what: str, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(where, f"expected the name of a {what}, found {_kind(value)}")
        key = str(value)
        if key not in table:
            hint = _suggest(key, table)
            if what == "filter" and "(" in key:
                hint = " (declare the expression under 'filters' and refer to it by name)"
            if not table:
                self.fail(where, f"unknown {what} {key!r}: none is declared")
            if len(table) > 12:  # a long list would bury the message
                self.fail(where, f"unknown {what} {key!r}{hint}")
            self.fail(where, f"unknown {what} {key!r}{hint}; known: " + ", ".join(sorted(table)))
        return table[key]
