"""Times: epoch milliseconds in memory, ISO-8601 with milliseconds (``...Z``) in JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.records.errors import BadRecord

#: Fields that hold times in every record type (converted by the codecs).
TIME_FIELDS = frozenset({"EventTime", "StartTime", "IntervalStart", "IntervalEnd", "EmittedAt", "Time"})


def to_iso(ms: int) -> str:
    """Epoch milliseconds → ``2026-03-02T09:00:00.000Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
        f".{ms % 1000:03d}Z"
    )


_ISO_CACHE: dict[int, str] = {}
_ISO_CACHE_SIZE = 4096


def iso(ms: int) -> str:
    """:func:`to_iso`, remembered for the last few thousand distinct times: the records written
    together share their times (an instant's actions, a state's ``Since``), and ``to_iso`` goes
    through a ``datetime`` each time."""
    text = _ISO_CACHE.get(ms)
    if text is None:
        if len(_ISO_CACHE) >= _ISO_CACHE_SIZE:
            _ISO_CACHE.clear()
        text = _ISO_CACHE[ms] = to_iso(ms)
    return text


def parse_time(value: object, field: str = "EventTime") -> int:
    """An ISO-8601 string (with zone; naive = UTC) or epoch-ms integer → epoch milliseconds.

    Raises :class:`BadRecord` (``bad-time`` or ``wrong-type``) naming the field.
    """
    if isinstance(value, bool):
        raise BadRecord("wrong-type", f"{field} must be an ISO-8601 time, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(round(value.timestamp() * 1000))
    if not isinstance(value, str):
        raise BadRecord("wrong-type", f"{field} must be an ISO-8601 time string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord("bad-time", f"{field} {value!r} is not an ISO-8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(round(dt.timestamp() * 1000))
    except (OverflowError, OSError, ValueError):
        raise BadRecord("bad-time", f"{field} {value!r} is out of range") from None
