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
made once per statistic (:func:`line_parts`) and once per object. :func:`single_object` does the
same for a Kafka message: the bytes of ``codec.encode("StatValue", as_record(row))`` (fastavro's
schemaless writer cost about 21 µs a record, a fifth of a worker's time), with the Avro of the
constant fields made once per statistic and object (``_HEADS``), which also gives the record's
message key (:func:`message_key`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from pipeline.records.avro_writer import long_bytes, string_bytes
from pipeline.records.codec import encode, fingerprint_of, state_text
from pipeline.records.jsonlines import _STRINGS, _TIMES, _Fallback, _state_text, encode_stat_line
from pipeline.records.keys import stat_key

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


def write_lines(write: Callable[[bytes], Any], batches: Iterable[list[Row]]) -> int:
    """Write every row of every list as the JSON line of its record (one ``write`` per list);
    returns how many: the statistics file of replay, in its process or its child."""
    join = b"".join
    n = 0
    for rows in batches:
        if rows:
            write(join(map(encode_row, rows)))
            n += len(rows)
    return n


# ------------------------------------------------------------------------------ Avro messages
#
# StatValue's fields in schema order: seven strings (Statistic … TimeProfile), IntervalStart and
# IntervalEnd [null, long], Value [null, double], State [null, string], Unit (string), EmittedAt
# (long), Reason (string); longs and strings as ``pipeline.records.avro_writer`` writes them.

_LONG_LOW, _LONG_HIGH = -(1 << 63), 1 << 63
_DOUBLE = struct.Struct("<d").pack
_STAT_HEADER = fingerprint_of("StatValue")


def avro_long(n: int) -> bytes:
    """An Avro long; ValueError outside 64 bits."""
    if not _LONG_LOW <= n < _LONG_HIGH:
        raise ValueError(f"{n} does not fit an Avro long")
    return long_bytes(n)


class _Bounded(dict):
    """A cache that starts again when full (a long run of fresh keys keeps it a few MiB)."""

    def __missing__(self, key: Any) -> bytes:
        if len(self) >= 1 << 16:
            self.clear()
        value = self[key] = self.make(key)
        return value

    def make(self, key: Any) -> bytes:  # pragma: no cover - every cache below has its own
        raise NotImplementedError


class _OptionalTimes(_Bounded):
    """An int time (or None) → the Avro of ``["null", long]``."""

    def make(self, t: int | None) -> bytes:
        return b"\x00" if t is None else b"\x02" + avro_long(t)


class _LongTimes(_Bounded):
    """An int time → the Avro of a long (EmittedAt)."""

    def make(self, t: int) -> bytes:
        return avro_long(t)


class _AvroStrings(_Bounded):
    def make(self, text: str) -> bytes:
        return string_bytes(text)


class _Heads(_Bounded):
    """(slot, accumulator names) → (message key, the Avro of Statistic … TimeProfile): one per
    statistic and object. Raises TypeError for a name that is not a string."""

    def make(self, key: tuple[Any, tuple[str, str, str, str]]) -> tuple[bytes, bytes]:  # type: ignore[override]
        slot, (_suffix, otype, tenant, oid) = key
        names = (slot.name, slot.stat_type, slot.category, otype, oid, tenant, slot.profile)
        if not all(name.__class__ is str for name in names):
            raise TypeError("a statistic or object name that is not a string")
        return stat_key(slot.name, otype, tenant, oid).encode(), b"".join(map(string_bytes, names))


_OPTIONAL_TIMES, _LONG_TIMES, _AVRO_STRINGS, _HEADS = _OptionalTimes(), _LongTimes(), _AvroStrings(), _Heads()


def message_key(row: Row) -> bytes:
    """The key of a row's record on its compacted ``stat.<StatType>`` topic
    (``keys.stat_record_key`` of its record)."""
    slot, acc = row[0], row[1]
    try:
        return _HEADS[(slot, acc.names)][0]
    except TypeError:
        return stat_key(slot.name, acc.object_type, acc.tenant, acc.object_id).encode()


def single_object(row: Row) -> bytes:
    """A row → the bytes of ``codec.encode("StatValue", as_record(row))`` (Avro single-object
    encoding). What the engine does not make — a time that is not an int or does not fit a long, a
    Value that is neither a float, an int nor None, a State that is not a dict, a name that is not a
    string — goes the record's way (which names the field when it cannot be written)."""
    slot, acc, start, end, value, state, emitted, reason = row
    kind = value.__class__
    if kind is float:
        number = b"\x02" + _DOUBLE(value)
    elif kind is int:
        number = b"\x02" + _DOUBLE(float(value))
    elif value is None:
        number = b"\x00"
    else:
        return encode("StatValue", as_record(row))
    if state is None:
        state_bytes = b"\x00"
    elif state.__class__ is dict:
        state_bytes = b"\x02" + string_bytes(state_text(state))
    else:
        return encode("StatValue", as_record(row))
    if not ((start is None or start.__class__ is int) and (end is None or end.__class__ is int)
            and emitted.__class__ is int and reason.__class__ is str and slot.unit.__class__ is str):
        return encode("StatValue", as_record(row))
    try:
        head = _HEADS[(slot, acc.names)][1]
        times = _OPTIONAL_TIMES[start] + _OPTIONAL_TIMES[end]
        tail = _AVRO_STRINGS[slot.unit] + _LONG_TIMES[emitted] + _AVRO_STRINGS[reason]
    except (TypeError, ValueError, UnicodeEncodeError):
        return encode("StatValue", as_record(row))
    return b"".join((_STAT_HEADER, head, times, number, state_bytes, tail))


def stat_encoder(serialization: Any) -> Callable[[Row, str], bytes]:
    """``(row, topic) → message value`` for a worker's framing: :func:`single_object` for the
    single-object encoding, otherwise its ``encode`` of the row's record (a registry's serializer)."""
    from pipeline.records.serialization import SingleObject

    if isinstance(serialization, SingleObject):
        return lambda row, _topic: single_object(row)
    return lambda row, topic: serialization.encode("StatValue", as_record(row), topic)
