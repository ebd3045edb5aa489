"""The future-time rule: an event stamped too far ahead of the stream's clock is a bad record.

One event stamped in year 9999 (a bridge whose clock is wrong) would otherwise move every clock of
the pipeline there: the reorder windows would take every later event for late input and the
statistics would close today's intervals for good. So validation dead-letters an event whose
``EventTime`` is more than a tolerance (one day by default) ahead of the *stream's clock*
(``docs/input-validation.md``, "Future times"):

- the live worker (``--clock wall``): the wall clock;
- replay and the worker on the event clock (``--clock event``): the largest ``EventTime`` accepted
  so far — a rejected event never moves it, so a bad event cannot drag the limit with it — and never
  later than the wall clock when that is known, so that the *first* event cannot be the bad one
  that sets the clock either.

Nothing here reads a clock: the caller passes the wall time in (or ``None`` when it has none), so
validation stays pure and replay stays reproducible when its caller fixes the wall time.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from pipeline.records.errors import BadRecord
from pipeline.records.times import to_iso

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE_MS",
    "StreamClock",
    "check_future",
    "parse_tolerance",
    "tolerance_argument",
]

#: How far ahead of the stream's clock an EventTime may be, by default: one day. Bridges' clocks
#: drift by seconds, not days; a quiet period of the stream longer than this needs a larger value.
DEFAULT_FUTURE_TOLERANCE_MS = 86_400_000

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")


def parse_tolerance(text: str) -> int | None:
    """``--future-tolerance``: ``1d``, ``36h``, ``90m``, ``600s``, ``500ms``, a bare number of seconds,
    or ``off`` (no limit: ``None``). Raises ``ValueError`` with a message for anything else."""
    if text.strip().lower() == "off":
        return None
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (examples: 1d, 36h, 90m, 600s, off)")
    return int(match.group(1)) * _UNITS_MS[match.group(2) or "s"]


def tolerance_argument(text: str) -> int | None:
    """``parse_tolerance`` as an argparse ``type`` (``replay`` and ``worker``): a bad value is a usage
    error (exit 2, one line), not a traceback."""
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(ms: int) -> str:
    """A duration for a reason: the largest whole unit that keeps it exact enough to read."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{ms}ms"


def check_future(
    event_time: int, reference_ms: int | None, tolerance_ms: int | None, where: str = ""
) -> None:
    """Raise ``BadRecord("future-time")`` when ``event_time`` is more than ``tolerance_ms`` after
    ``reference_ms``; no check when either is ``None`` (no clock known yet, or the rule is off)."""
    if reference_ms is None or tolerance_ms is None:
        return
    ahead = event_time - reference_ms
    if ahead > tolerance_ms:
        raise BadRecord(
            "future-time",
            f"{where}EventTime {to_iso(event_time)} is {_duration(ahead)} ahead of the stream's clock "
            f"{to_iso(reference_ms)} (tolerance {_duration(tolerance_ms)}; see --future-tolerance)",
        )


@dataclass
class StreamClock:
    """The reference of the future-time rule for one stream (a replay, a worker's stage 1).

    ``event_clock``: replay and ``--clock event`` (the largest EventTime accepted, bounded by the wall
    clock when known); otherwise the live rule (the wall clock only: after a quiet night the first
    event of the morning must not be judged against yesterday's last one).
    """

    tolerance_ms: int | None = DEFAULT_FUTURE_TOLERANCE_MS
    event_clock: bool = True
    accepted_ms: int | None = None

    def reference(self, wall_ms: int | None) -> int | None:
        """The stream's clock now, given the wall time (``None``: not known)."""
        if not self.event_clock:
            return wall_ms
        known = [t for t in (self.accepted_ms, wall_ms) if t is not None]
        return min(known) if known else None

    def accept(self, event_time: int) -> None:
        """An event passed validation: the event clock moves to it (never backwards)."""
        if self.accepted_ms is None or event_time > self.accepted_ms:
            self.accepted_ms = event_time
