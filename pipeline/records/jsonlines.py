"""JSON Lines output, fast: one record → one line of bytes, the same bytes as :func:`codec.to_json`.

A replay of a busy day writes hundreds of thousands of statistic records, and ``json.dumps`` plus
an ISO conversion of three times per record was the largest cost of ``mediastat replay`` after the
engine itself. Here a record is serialised once, by orjson (measured about 5× faster than
``json.dumps`` per record), with its times converted through a small cache (consecutive records
share their ``EmittedAt`` and ``IntervalStart``).

The output stays byte for byte that of :func:`pipeline.records.codec.to_json` (the reference), so
files written before and after compare equal: orjson writes some floats differently (``1e-05`` as
``0.00001``, ``1e+16`` as ``1e16``) and refuses integers beyond 64 bits, non-string keys and lone
surrogates, so a record holding any of those (or bytes, a DeadLetter's ``Payload``) is written by
the reference encoder instead. Such records are rare: statistic values are counts, seconds and
percentages.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from pipeline.records.codec import to_json
from pipeline.records.times import TIME_FIELDS, iso, to_iso

_TIME_KEYS = tuple(sorted(TIME_FIELDS))
_ISO_CACHE_SIZE = 4096
#: Floats that ``repr`` (``json.dumps``) and orjson write alike: no exponent in either.
_PLAIN_LOW, _PLAIN_HIGH = 1e-4, 1e16


def _plain(value: Any) -> bool:
    """Whether orjson writes ``value`` exactly as ``json.dumps`` does (see the module docstring)."""
    kind = value.__class__
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return value == 0.0 or _PLAIN_LOW <= abs(value) < _PLAIN_HIGH
    if kind is dict:
        return all(k.__class__ is str and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    return False


def encode_line(record: dict[str, Any]) -> bytes:
    """One record → ``to_json(record) + "\\n"`` as UTF-8 bytes."""
    out = record.copy()
    for key in _TIME_KEYS:
        value = out.get(key)
        if value is not None and value.__class__ is int:
            out[key] = iso(value)
    state = out.get("State")
    if state is not None and state.__class__ is dict:
        since = state.get("Since")
        if since.__class__ is int:
            state = state.copy()
            state["Since"] = iso(since)
            out["State"] = state
    for value in out.values():
        kind = value.__class__
        if not (kind is str or value is None or kind is int or kind is bool) and not _plain(value):
            return (to_json(record) + "\n").encode("utf-8")
    try:
        return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):  # a 65-bit integer, a lone surrogate…
        return (to_json(record) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------- statistic records

#: A StatValue record's fields in the engine's order (``pipeline.stats.notification.record``).
STAT_KEYS = ("Statistic", "StatType", "Category", "ObjectType", "ObjectID", "TenantID", "TimeProfile",
             "IntervalStart", "IntervalEnd", "Value", "State", "Unit", "EmittedAt", "Reason")
_FINITE_LOW, _FINITE_HIGH = float("-inf"), float("inf")


class _Fallback(Exception):
    """A value the statistic line writer does not write itself: the generic path writes the record."""


class _Strings(dict):
    """str → its JSON text as ``json.dumps(ensure_ascii=False)`` writes it; ``None`` → ``null``.

    The names of a statistic record (statistic, type, category, profile, unit, reason) and of its
    object repeat from record to record: each is encoded once (a few entries per object seen).
    """

    def __missing__(self, key: Any) -> str:
        if key.__class__ is not str:
            raise _Fallback
        if len(self) >= 1 << 20:  # bounded: a very long run of fresh objects starts again
            self.clear()
        text = self[key] = json.dumps(key, ensure_ascii=False)
        return text


class _Times(dict):
    """Epoch ms → its quoted ISO text (``to_iso``); ``None`` → ``null``. Consecutive records share
    their ``EmittedAt`` and ``IntervalStart``: a small cache, cleared when full."""

    def __missing__(self, key: Any) -> str:
        if key.__class__ is not int:
            raise _Fallback
        if len(self) >= _ISO_CACHE_SIZE:
            self.clear()
            self[None] = "null"
        text = self[key] = f'"{to_iso(key)}"'
        return text


def _state_text(state: dict[str, Any]) -> str:
    """A CurrentState's JSON text inside a statistic line (``Since`` as an ISO time)."""
    since = state.get("Since")
    if since.__class__ is int and _plain(state):
        state = state.copy()
        state["Since"] = iso(since)
        try:
            return orjson.dumps(state).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError):
            pass
    return encode_line({"State": state})[9:-2].decode("utf-8")


_STRINGS = _Strings({None: "null"})
_TIMES = _Times({None: "null"})


def _head(names: tuple[str, ...]) -> str:
    """The line up to ``"IntervalStart":`` for these seven names (raises _Fallback for a non-string)."""
    if len(_HEADS) >= _HEADS_SIZE:
        _HEADS.clear()
    s = _STRINGS
    text = _HEADS[names] = (
        f'{{"Statistic":{s[names[0]]},"StatType":{s[names[1]]},"Category":{s[names[2]]},'
        f'"ObjectType":{s[names[3]]},"ObjectID":{s[names[4]]},"TenantID":{s[names[5]]},'
        f'"TimeProfile":{s[names[6]]},"IntervalStart":'
    )
    return text


#: The constant part of a (statistic, object)'s lines, by its seven names; bounded (a few MiB).
_HEADS: dict[tuple[str, ...], str] = {}
_HEADS_SIZE = 1 << 15


def encode_stat_line(record: dict[str, Any]) -> bytes:
    """A StatValue record → the bytes of :func:`encode_line` (``to_json(record) + "\\n"``), faster.

    A statistic record is most of what a replay writes (34 per event on a busy day) and its fields
    are known: seven names that never change for a (statistic, object), three times (epoch ms or
    None), a number and a small state. The names' part of the line is made once per (statistic,
    object) and the rest formatted around it, without the copy of the record and the walk over its
    values that the generic path needs. A record of any other shape or value kind (a ``Value`` that
    is not a float, an int or None; a time that is not an int; a name that is not a string) goes the
    generic way.
    """
    if tuple(record) != STAT_KEYS:
        return encode_line(record)
    (statistic, stat_type, category, object_type, object_id, tenant, profile, start, end, value, state,
     unit, emitted, reason) = record.values()
    kind = value.__class__
    if kind is float:
        if not _FINITE_LOW < value < _FINITE_HIGH:  # NaN and infinities: json.dumps's own spelling
            return encode_line(record)
        number = float.__repr__(value)  # what json.dumps writes for a finite float
    elif kind is int:
        number = int.__repr__(value)
    elif value is None:
        number = "null"
    else:
        return encode_line(record)
    if state is None:
        state_text = "null"
    elif state.__class__ is dict:
        state_text = _state_text(state)
    else:
        return encode_line(record)
    if not ((start is None or start.__class__ is int) and (end is None or end.__class__ is int)
            and emitted.__class__ is int):
        return encode_line(record)  # True or 1.0 would find 1's text in the cache
    s, t = _STRINGS, _TIMES
    try:
        head = _HEADS.get((statistic, stat_type, category, object_type, object_id, tenant, profile))
        if head is None:
            head = _head((statistic, stat_type, category, object_type, object_id, tenant, profile))
        line = (
            f'{head}{t[start]},"IntervalEnd":{t[end]},"Value":{number},"State":{state_text},'
            f'"Unit":{s[unit]},"EmittedAt":{t[emitted]},"Reason":{s[reason]}}}\n'
        )
    except _Fallback:
        return encode_line(record)
    return line.encode("utf-8")
