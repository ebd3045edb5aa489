"""Durations on the command line: ``2s``, ``500ms``, ``90m``, ``36h``, ``1d`` or a bare number of
seconds, one syntax for every option that takes one (``--future-tolerance``, ``--reorder-window``).

Parsing is separate from argparse so that the rules of each option (``off``, bounds) stay with the
option and a bad value still ends as one usage line (exit 2), not a traceback.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["argument", "parse_duration"]

T = TypeVar("T")

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str, examples: str = "2s, 500ms, 90m") -> int:
    """Milliseconds of ``text``; ``ValueError`` naming the text and ``examples`` for anything else."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (examples: {examples})")
    return int(match.group(1)) * _UNITS_MS[match.group(2) or "s"]


def argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse ``type``: its ``ValueError`` becomes a usage error (exit 2, one line)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__  # argparse names the type in its message
    return convert
