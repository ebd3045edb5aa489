"""The future-time rule: an event stamped too far ahead of the wall clock is a bad record.

One event stamped in year 9999 (a bridge whose clock is wrong) would otherwise move every clock of
the pipeline there: the reorder windows would take every later event for late input and the
statistics would close today's intervals for good. So validation dead-letters an event whose
``EventTime`` is more than a tolerance (one day by default) ahead of the *wall clock*
(``docs/input-validation.md``, "Future times"), on either of the worker's clocks and in replay.

Why the wall clock and not the largest EventTime seen: no event that really happened can be stamped
after now, while a quiet weekend in a replayed file is normal — judging Monday's first event against
Friday's last one would dead-letter all of Monday. An event ahead in the event stream's past (a file
of 2024 holding one event of 2025) is not caught here; the statistics engine jumps over the empty
intervals such an event opens, so it costs O(objects), not a walk through every reset between.

Nothing here reads a clock: the caller passes the wall time in (``replay`` the time it started, the
worker the time of each message; ``None``: no check), so validation stays pure and a test fixes it.
"""

from __future__ import annotations

from pipeline.records.durations import argument, parse_duration
from pipeline.records.errors import BadRecord
from pipeline.records.times import to_iso

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE_MS",
    "check_future",
    "parse_tolerance",
    "tolerance_argument",
]

#: How far ahead of the wall clock an EventTime may be, by default: one day. Bridges' clocks drift
#: by seconds, not days; a day also covers any time-zone mistake of a bridge.
DEFAULT_FUTURE_TOLERANCE_MS = 86_400_000


def parse_tolerance(text: str) -> int | None:
    """``--future-tolerance``: ``1d``, ``36h``, ``90m``, ``600s``, ``500ms``, a bare number of seconds,
    or ``off`` (no limit: ``None``). Raises ``ValueError`` with a message for anything else."""
    if text.strip().lower() == "off":
        return None
    return parse_duration(text, "1d, 36h, 90m, 600s, off")


#: ``parse_tolerance`` as an argparse ``type`` (``replay`` and ``worker``).
tolerance_argument = argument(parse_tolerance)


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
            f"{where}EventTime {to_iso(event_time)} is {_duration(ahead)} ahead of the wall clock "
            f"{to_iso(reference_ms)} (tolerance {_duration(tolerance_ms)}; see --future-tolerance)",
        )
