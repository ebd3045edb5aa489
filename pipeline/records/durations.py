"""Durations on the command line: ``2s``, ``500ms``, ``90m``, ``1.5h``, ``1d``, one syntax for every
option that takes one (``--future-tolerance``, ``--reorder-window``, ``--retention``, ``--segment``).

A bare number is seconds for the options of the pipeline's clock (``--reorder-window 0``), and
refused where Kafka's own setting counts milliseconds (``retention.ms``, ``segment.ms``): there a
bare ``604800000`` meant to be milliseconds would otherwise read as 19 years (``unit_required``).

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
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)


def parse_duration(text: str, examples: str = "2s, 500ms, 90m", unit_required: bool = False) -> int:
    """Milliseconds of ``text`` (rounded down to a whole millisecond); ``ValueError`` naming the
    text and ``examples`` for anything else, and for a bare number when ``unit_required``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (examples: {examples})")
    number, unit = match.group(1), match.group(2)
    if unit is None and unit_required and float(number) != 0:
        raise ValueError(f"duration {text!r} needs a unit: ms, s, m, h or d (examples: {examples})")
    return int(float(number) * _UNITS_MS[(unit or "s").lower()])


def argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse ``type``: its ``ValueError`` becomes a usage error (exit 2, one line)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__  # argparse names the type in its message
    return convert
