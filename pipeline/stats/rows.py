"""Statistic records as rows: what the engine makes, and the JSON line of a row written directly.

A busy day sends tens of statistic records per event (711,000 for 21,000 events at 200 agents),
and most of them go straight to a JSON Lines file (``mediastat replay``). Built as a 14-field dict
each and then taken apart again by the line writer, a record cost more to make and write than to
compute. Inside the engine a record is therefore a *row*, a plain tuple::

    (slot, accumulator, IntervalStart, IntervalEnd, Value, State, EmittedAt, Reason)

whose constant fields (statistic, type, category, profile, unit; object type, id and tenant) are
read from the compiled statistic and the accumulator when they are needed. :func:`as_record` makes
the StatValue dict (``notification.record``'s fields and order) where a caller needs one — the
engine's public methods, stage 3 and 4 — and :func:`encode_row` writes the bytes of
``jsonlines.encode_stat_line(as_record(row))`` without the dict: the constant parts of the line are
made once per statistic (:func:`line_parts`) and once per object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from pipeline.records.jsonlines import _STRINGS, _TIMES, _Fallback, _state_text, encode_stat_line

#: A row's fields: (slot, accumulator, start, end, value, state, emitted at, reason).
Row = tuple

_FINITE_LOW, _FINITE_HIGH = float("-inf"), float("inf")


def as_record(row: Row) -> dict[str, Any]:
    """The StatValue record of a row (``pipeline.stats.notification.record``'s fields and order)."""
    slot, acc, start, end, value, state, emitted, reason = row
    return {
        "Statistic": slot.name, "StatType": slot.stat_type, "Category": slot.category,
        "ObjectType": acc.object_type, "ObjectID": acc.object_id, "TenantID": acc.tenant,
        "TimeProfile": slot.profile, "IntervalStart": start, "IntervalEnd": end, "Value": value,
        "State": state, "Unit": slot.unit, "EmittedAt": emitted, "Reason": reason,
    }


def as_records(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """:func:`as_record` of each row, in order."""
    return list(map(as_record, rows))


def iter_records(rows: Iterable[Row]) -> Iterator[dict[str, Any]]:
    """:func:`as_record` of each row, one at a time (a replay's rows are never one list)."""
    return map(as_record, rows)


def batched(rows: Iterable[Row], size: int = 1024) -> Iterator[list[Row]]:
    """Rows as lists of at most ``size`` (a writer's unit of work, bounded in memory)."""
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def line_parts(name: Any, stat_type: Any, category: Any, profile: Any,
               unit: Any) -> tuple[str, str, str] | None:
    """A statistic's constant parts of a line: up to ``"ObjectType":``, from ``,"TimeProfile"`` to
    ``"IntervalStart":``, and ``"Unit":…,"EmittedAt":``; None when a name is not a string (such a
    statistic's rows are written the generic way)."""
    s = _STRINGS
    try:
        return (
            f'{{"Statistic":{s[name]},"StatType":{s[stat_type]},"Category":{s[category]},"ObjectType":',
            f',"TimeProfile":{s[profile]},"IntervalStart":',
            f'"Unit":{s[unit]},"EmittedAt":',
        )
    except _Fallback:
        return None


class _Objects(dict):
    """An accumulator's ``names`` (key, object type, tenant, id: one tuple per object, shared by its
    accumulators) → ``OT,"ObjectID":ID,"TenantID":T`` of a line; bounded."""

    def __missing__(self, key: tuple[Any, Any, Any, Any]) -> str:
        if len(self) >= 1 << 16:  # a few MiB at most: a very long run of fresh objects starts again
            self.clear()
        s = _STRINGS
        text = self[key] = f'{s[key[1]]},"ObjectID":{s[key[3]]},"TenantID":{s[key[2]]}'  # may raise _Fallback
        return text


_OBJECTS = _Objects()


def encode_row(row: Row) -> bytes:
    """A row → the bytes of ``encode_stat_line(as_record(row))`` (``to_json`` of the record and a
    newline). Values, states and times of another kind than the engine makes (a Value that is not a
    finite float, an int or None; a time that is not an int; a name that is not a string) go the
    record's way."""
    slot, acc, start, end, value, state, emitted, reason = row
    kind = value.__class__
    if kind is float:
        if not _FINITE_LOW < value < _FINITE_HIGH:  # NaN and infinities: json.dumps's own spelling
            return encode_stat_line(as_record(row))
        number = float.__repr__(value)  # what json.dumps writes for a finite float
    elif kind is int:
        number = int.__repr__(value)
    elif value is None:
        number = "null"
    else:
        return encode_stat_line(as_record(row))
    parts = slot.line
    if parts is None or not ((start is None or start.__class__ is int)
                             and (end is None or end.__class__ is int) and emitted.__class__ is int):
        return encode_stat_line(as_record(row))  # True or 1.0 would find 1's text in the cache
    if state is None:
        state_text = "null"
    elif state.__class__ is dict:
        state_text = _state_text(state)
    else:
        return encode_stat_line(as_record(row))
    t = _TIMES
    try:
        line = (
            f'{parts[0]}{_OBJECTS[acc.names]}{parts[1]}{t[start]},'
            f'"IntervalEnd":{t[end]},"Value":{number},"State":{state_text},{parts[2]}{t[emitted]},'
            f'"Reason":{_STRINGS[reason]}}}\n'
        )
    except _Fallback:
        return encode_stat_line(as_record(row))
    return line.encode("utf-8")
