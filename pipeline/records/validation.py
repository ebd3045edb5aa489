"""Validation and normalisation of reporting events (spec events.md, "The normalised record").

Every event enters the pipeline through :func:`validate_event`, whether it came from a JSON line
(:func:`parse_json_line`), an Avro message or the simulator. It is the one place that decides what a
bad record is, so that the Kafka pipeline and ``replay`` dead-letter exactly the same input with
exactly the same reason, and so that the stages behind it can trust every field's type.

The contract is strict on one point: whatever the input, the only exception that leaves this module
is :class:`~pipeline.records.errors.BadRecord`. A worker that crashed on one poisonous message would
re-read it after every restart and stop its partition for good; a dead letter costs one record.

The rules are written up for users in ``docs/input-validation.md``; keep the two in step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipeline.records.catalog import (
    AGENT_EVENTS,
    ALL_EVENTS,
    IGNORED_EVENTS,
    INTERACTION_EVENTS,
    INTERACTION_TYPES,
    OPERATIONS,
    PARTY_TYPES,
    VISIBILITIES,
)
from pipeline.records.errors import BadRecord
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, check_future
from pipeline.records.times import parse_time

__all__ = [
    "EVENT_FIELDS",
    "MAX_EVENT_TIME_MS",
    "MEDIA_EVENTS",
    "MIN_EVENT_TIME_MS",
    "PARTY_EVENTS",
    "parse_json_line",
    "validate_event",
]

# --- field table -------------------------------------------------------------------------------------

_STR = "string"  # free text: must be a JSON string
_ID = "id"  # an identifier: a string, or an integer written as its decimal string
_ENUM = "enum"  # a string out of a fixed list
_MAP = "map"  # object of string values
_STR_LIST = "string-list"
_BOOL = "bool"
_MEDIA_LIST = "media-list"
_INTERACTIONS = "interactions"
_TIME = "time"

#: Every field of ``schemas/ReportingEvent.avsc``, in schema order, with how it is checked. Hard-coded
#: rather than read from the schema at import time because the schema's location differs between a
#: checkout and an installed wheel; a test keeps the two identical.
EVENT_FIELDS: dict[str, str] = {
    "Event": _STR,
    "EventTime": _TIME,
    "TenantID": _ID,
    "EventID": _ID,
    "SourceID": _ID,
    "InteractionID": _ID,
    "ParentInteractionID": _ID,
    "MediaTypeID": _ID,
    "InteractionType": _ENUM,
    "InteractionSubtype": _STR,
    "Queue": _STR,
    "PreviousQueue": _STR,
    "PartyType": _ENUM,
    "AgentID": _ID,
    "PlaceID": _ID,
    "RouterID": _ID,
    "StrategyID": _ID,
    "MediaServerID": _ID,
    "Operation": _ENUM,
    "Visibility": _ENUM,
    "Reason": _MAP,
    "UserData": _MAP,
    "AddedProperties": _MAP,
    "ChangedProperties": _MAP,
    "DeletedProperties": _STR_LIST,
    "WorkbinTypeID": _ID,
    "WorkbinAgentID": _ID,
    "WorkbinGroupID": _ID,
    "WorkbinPlaceID": _ID,
    "WorkbinPlaceGroupID": _ID,
    "ViewID": _ID,
    "TargetAgentID": _ID,
    "TargetPlaceID": _ID,
    "MediaList": _MEDIA_LIST,
    "Ready": _BOOL,
    "DoNotDisturb": _BOOL,
    "Interactions": _INTERACTIONS,
}

_ENUMS: dict[str, tuple[str, ...]] = {
    "InteractionType": INTERACTION_TYPES,
    "PartyType": PARTY_TYPES,
    "Operation": OPERATIONS,
    "Visibility": VISIBILITIES,
}

#: The envelope: checked first, in this order, on every event (including ignored ones).
_ENVELOPE = ("Event", "EventTime", "TenantID")

#: Optional fields also kept on an ignored event (EventCustomReporting): enough for the key and for
#: duplicate counting, nothing that a custom event may legitimately fill with data we cannot express.
_IGNORED_EVENT_FIELDS = ("EventID", "SourceID", "InteractionID", "AgentID")

#: Agent events about one media channel: without MediaTypeID nobody can tell which channel changed.
MEDIA_EVENTS = frozenset(
    {
        "EventMediaAdded",
        "EventMediaRemoved",
        "EventNotReadyForMedia",
        "EventReadyForMedia",
        "EventMediaStateReasonChanged",
    }
)

#: Interaction events about one party of the interaction; they always carry a PartyType after
#: validation.
PARTY_EVENTS = frozenset(
    {"EventAgentInvited", "EventPartyAdded", "EventPartyRemoved", "EventRejected", "EventRevoked"}
)

#: EventTime bounds, epoch ms: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. Earlier times can
#: only come from a broken bridge, later ones cannot be written as ISO-8601 at all.
MIN_EVENT_TIME_MS = 0
MAX_EVENT_TIME_MS = 253_402_300_799_999

#: Integers accepted where a string identifier is expected: the signed 64-bit range (DBIDs, employee
#: numbers). Beyond it a number is not an identifier any bridge produces.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_SHOW_MAX = 60  # characters of a offending string quoted in a reason

# --- reasons -----------------------------------------------------------------------------------------


def _json_type(value: object) -> str:
    """The JSON name of ``value``'s type, as a user who wrote the JSON would call it."""
    if value is None:
        return "null"
    for python_type, name in (
        (bool, "boolean"),  # before int: bool is an int subclass
        (str, "string"),
        (int, "integer"),
        (float, "number"),
        (dict, "object"),
        (list, "array"),
    ):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _show(text: str) -> str:
    """``text`` quoted for a reason, shortened: reasons go to logs and dead letters, not the payload."""
    if len(text) > _SHOW_MAX:
        return repr(text[:_SHOW_MAX]) + f"... ({len(text)} characters)"
    return repr(text)


def _fail(kind: str, where: str, message: str) -> BadRecord:
    return BadRecord(kind, f"{where}{message}")


# --- scalar checks -----------------------------------------------------------------------------------


def _check_unicode(text: str, path: str, where: str) -> str:
    """Reject strings that cannot be encoded as UTF-8 (lone surrogates, from JSON ``\\ud800`` escapes).

    They pass JSON decoding but would crash the Avro/JSON encoder of a later stage, far from the cause.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _fail(
                "bad-value", where, f"{path} is not valid Unicode (lone surrogate at character {exc.start})"
            ) from None
    return text


def _string(value: object, path: str, where: str, *, identifier: bool) -> str:
    """A string field. Identifiers also accept an integer, written as its decimal string.

    Genesys identifiers are often numeric (tenant and agent DBIDs, employee numbers) and JSON encoders
    write numeric-looking ids as numbers; the conversion is lossless, so ``1001`` and ``"1001"`` name
    the same agent. Floats and booleans are never identifiers.
    """
    if isinstance(value, str):
        return _check_unicode(value, path, where)
    if identifier and isinstance(value, int) and not isinstance(value, bool):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _fail("wrong-type", where, f"{path} must be a string; an integer id must fit in 64 bits")
        return str(value)
    raise _fail("wrong-type", where, f"{path} must be a string, got {_json_type(value)}")


def _enum(value: object, name: str, path: str, where: str) -> str:
    text = _string(value, path, where, identifier=False)
    allowed = _ENUMS[name]
    if text not in allowed:
        raise _fail("bad-value", where, f"{path} {_show(text)} is not one of {', '.join(allowed)}")
    return text


def _bool(value: object, path: str, where: str) -> bool:
    # Strict: "false" as a string or 0 are not booleans, and guessing would flip readiness silently.
    if isinstance(value, bool):
        return value
    raise _fail("wrong-type", where, f"{path} must be a boolean, got {_json_type(value)}")


def _string_map(value: object, path: str, where: str) -> dict[str, str]:
    """A map string→string. Integer values become decimal strings (Genesys KVLists hold integers).

    Anything else (nested objects, arrays, null, booleans, floats) is wrong-type: a flat map is all the
    record can carry, and flattening nested data would invent keys nobody configured a filter on.
    """
    if not isinstance(value, dict):
        raise _fail(
            "wrong-type", where, f"{path} must be an object of string values, got {_json_type(value)}"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _fail("wrong-type", where, f"{path} keys must be strings, got {_json_type(key)}")
        _check_unicode(key, f"{path} key {_show(key)}", where)
        item_path = f"{path}[{_show(key)}]"
        if isinstance(item, str):
            out[key] = _check_unicode(item, item_path, where)
        elif isinstance(item, int) and not isinstance(item, bool) and _INT64_MIN <= item <= _INT64_MAX:
            out[key] = str(item)
        else:
            raise _fail("wrong-type", where, f"{item_path} must be a string, got {_json_type(item)}")
    return out


def _string_list(value: object, path: str, where: str) -> list[str]:
    if not isinstance(value, list):
        raise _fail("wrong-type", where, f"{path} must be an array of strings, got {_json_type(value)}")
    return [_string(item, f"{path}[{i}]", where, identifier=False) for i, item in enumerate(value)]


def _required_id(entry: Mapping[Any, Any], name: str, path: str, where: str) -> str:
    """A required identifier inside a list entry: absent, null and empty are all missing."""
    value = entry.get(name)
    if value is None or value == "":
        state = "empty" if value == "" else ("null" if name in entry else "absent")
        raise _fail("missing-field", where, f"{path} is required ({state})")
    return _string(value, path, where, identifier=True)


def _media_list(value: object, path: str, where: str) -> list[dict[str, Any]]:
    """MediaList entries: MediaTypeID required and lower-cased; Ready defaults to False.

    Ready is always written because the Avro MediaEntry record has a non-null Ready (default false):
    the JSON and Avro paths must give the same normalised dict.
    """
    if not isinstance(value, list):
        raise _fail("wrong-type", where, f"{path} must be an array of objects, got {_json_type(value)}")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        entry_path = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise _fail("wrong-type", where, f"{entry_path} must be an object, got {_json_type(entry)}")
        media = _required_id(entry, "MediaTypeID", f"{entry_path}.MediaTypeID", where).lower()
        ready = entry.get("Ready")
        item: dict[str, Any] = {
            "MediaTypeID": media,
            "Ready": False if ready is None else _bool(ready, f"{entry_path}.Ready", where),
        }
        reason = entry.get("Reason")
        if reason is not None:
            item["Reason"] = _string_map(reason, f"{entry_path}.Reason", where)
        out.append(item)
    return out


def _interactions(value: object, path: str, where: str) -> list[dict[str, Any]]:
    """Interactions in hand (EventPlaceAgentState): InteractionID required, the rest optional."""
    if not isinstance(value, list):
        raise _fail("wrong-type", where, f"{path} must be an array of objects, got {_json_type(value)}")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        entry_path = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise _fail("wrong-type", where, f"{entry_path} must be an object, got {_json_type(entry)}")
        item: dict[str, Any] = {
            "InteractionID": _required_id(entry, "InteractionID", f"{entry_path}.InteractionID", where)
        }
        media = entry.get("MediaTypeID")
        if media is not None and media != "":
            item["MediaTypeID"] = _string(media, f"{entry_path}.MediaTypeID", where, identifier=True).lower()
        kind = entry.get("InteractionType")
        if kind is not None and kind != "":
            item["InteractionType"] = _enum(kind, "InteractionType", f"{entry_path}.InteractionType", where)
        queue = entry.get("Queue")
        if queue is not None and queue != "":
            item["Queue"] = _string(queue, f"{entry_path}.Queue", where, identifier=False)
        out.append(item)
    return out


def _event_time(value: object, where: str) -> int:
    try:
        ms = parse_time(value, "EventTime")
    except BadRecord as exc:
        raise _fail(exc.kind, where, exc.reason) from None
    except Exception:  # parse_time is tolerant, but a time is never worth a crashed worker
        raise _fail("bad-time", where, "EventTime cannot be parsed") from None
    if not MIN_EVENT_TIME_MS <= ms <= MAX_EVENT_TIME_MS:
        raise _fail(
            "bad-time",
            where,
            f"EventTime {ms} ms is outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z",
        )
    return ms


def _field(name: str, value: object, where: str) -> Any:
    """One optional top-level field, checked and normalised; ``None`` means "treat as absent"."""
    kind = EVENT_FIELDS[name]
    if kind in (_STR, _ID, _ENUM) and value == "":
        # IXN and many bridges write "" for an attribute that is not set. An empty Queue or PlaceID
        # names no object; keeping it would open statistics on a Queue called "".
        return None
    if kind == _ID:
        text = _string(value, name, where, identifier=True)
        return text.lower() if name == "MediaTypeID" else text
    if kind == _STR:
        return _string(value, name, where, identifier=False)
    if kind == _ENUM:
        return _enum(value, name, name, where)
    if kind == _MAP:
        return _string_map(value, name, where)
    if kind == _STR_LIST:
        return _string_list(value, name, where)
    if kind == _BOOL:
        return _bool(value, name, where)
    if kind == _MEDIA_LIST:
        return _media_list(value, name, where)
    if kind == _INTERACTIONS:
        return _interactions(value, name, where)
    raise AssertionError(f"no check for field {name} of kind {kind}")  # pragma: no cover


def _missing(obj: Mapping[Any, Any], name: str, where: str, why: str = "") -> BadRecord:
    """missing-field for ``name``, saying whether it was absent, null or empty, and hinting at a
    differently-cased key (``interactionId``) — the commonest mistake of a hand-written bridge."""
    if name in obj:
        state = "null" if obj[name] is None else "empty"
    else:
        state = "absent"
        for key in obj:
            if isinstance(key, str) and key.lower() == name.lower():
                state = f"absent; found {_show(key)} — field names are case-sensitive"
                break
    return _fail("missing-field", where, f"{name} is required{why} ({state})")


def _required_envelope_field(obj: Mapping[Any, Any], name: str, where: str) -> str:
    value = obj.get(name)
    if value is None or value == "":
        raise _missing(obj, name, where)
    return _string(value, name, where, identifier=EVENT_FIELDS[name] == _ID)


# --- the API -----------------------------------------------------------------------------------------


def validate_event(
    obj: object,
    *,
    reference_ms: int | None = None,
    future_tolerance_ms: int | None = DEFAULT_FUTURE_TOLERANCE_MS,
) -> dict[str, Any]:
    """Check one decoded event and return its normalised form; raise :class:`BadRecord` otherwise.

    ``reference_ms`` is the wall clock (``pipeline.records.future``); an otherwise valid event more
    than ``future_tolerance_ms`` after it is ``future-time``. The caller passes the clock in, so this
    function stays pure; ``None`` (no clock given, or ``off``) skips the rule. The rule
    runs last: a record that is bad in itself gets that verdict whatever the clock says.

    ``obj`` is what a JSON or Avro decoder produced (Avro's absent optionals arrive as ``None`` and are
    treated as absent). The result holds only the schema's fields, in schema order, absent optionals
    omitted, ``EventTime`` as int epoch ms, ``MediaTypeID`` lower-cased, and ``PartyType`` set on
    every party event. The first problem found is reported, in a fixed order (envelope, then fields in
    schema order, then what the event requires), so the same input always gets the same reason.

    Never raises anything but :class:`BadRecord`: see the module docstring.
    """
    try:
        event = _validate(obj)
        check_future(event["EventTime"], reference_ms, future_tolerance_ms, f"{event['Event']}: ")
        return event
    except BadRecord:
        raise
    except Exception as exc:
        # A bug here must cost one dead letter, not a partition. The reason says so plainly so that it
        # is reported rather than mistaken for bad input; the fuzz tests assert it never happens.
        raise BadRecord(
            "bad-value", f"internal error while validating the event ({type(exc).__name__}); please report it"
        ) from exc


def _validate(obj: object) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadRecord("wrong-type", f"a reporting event must be a JSON object, got {_json_type(obj)}")

    event = _required_envelope_field(obj, "Event", "")
    if event not in ALL_EVENTS:
        raise BadRecord("unknown-event", f"Event {_show(event)} is not a known reporting event")
    where = f"{event}: "
    out: dict[str, Any] = {"Event": event}
    if obj.get("EventTime") is None:
        raise _missing(obj, "EventTime", where)
    out["EventTime"] = _event_time(obj["EventTime"], where)
    out["TenantID"] = _required_envelope_field(obj, "TenantID", where)

    if event in IGNORED_EVENTS:
        # Accepted and ignored (counted). Custom reporting events carry arbitrary attached data, often
        # nested; dead-lettering them over fields nobody reads would only bury real bad records.
        for name in _IGNORED_EVENT_FIELDS:
            value = obj.get(name)
            if value is not None:
                normalised = _field(name, value, where)
                if normalised is not None:
                    out[name] = normalised
        return out

    for name in EVENT_FIELDS:
        if name in out:
            continue
        value = obj.get(name)
        if value is None:
            continue
        normalised = _field(name, value, where)
        if normalised is not None:
            out[name] = normalised

    if event in INTERACTION_EVENTS and "InteractionID" not in out:
        raise _missing(obj, "InteractionID", where)
    if event in AGENT_EVENTS and "AgentID" not in out:
        raise _missing(obj, "AgentID", where)
    if event == "EventInteractionSubmitted" and "MediaTypeID" not in out:
        raise _missing(obj, "MediaTypeID", where, " to create an interaction")
    if event in MEDIA_EVENTS and "MediaTypeID" not in out:
        raise _missing(obj, "MediaTypeID", where, " to name the media channel")
    if event in PARTY_EVENTS:
        _check_party(obj, out, event, where)
    return {name: out[name] for name in EVENT_FIELDS if name in out}


def _check_party(obj: Mapping[Any, Any], out: dict[str, Any], event: str, where: str) -> None:
    """Settle who the party of a party event is, and default PartyType.

    PartyType defaults to ``Agent`` when AgentID is present, else ``Unknown``. An agent party needs its
    AgentID. EventAgentInvited is an offer to an agent by definition (the tracker opens offers for
    agents only), so it needs AgentID whatever the PartyType, and any PartyType but Agent contradicts it.
    """
    party = out.get("PartyType")
    if event == "EventAgentInvited":
        if party is not None and party != "Agent":
            raise _fail(
                "bad-value", where, f"PartyType {party!r}: an invitation is always for an Agent party"
            )
        if "AgentID" not in out:
            raise _missing(obj, "AgentID", where, " (the invited agent)")
        out["PartyType"] = "Agent"
        return
    if party is None:
        out["PartyType"] = "Agent" if "AgentID" in out else "Unknown"
    elif party == "Agent" and "AgentID" not in out:
        raise _missing(obj, "AgentID", where, " for PartyType Agent")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NonStandardConstant(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Reject ``{"AgentID": "a1", "AgentID": "a2"}``: which one the sender meant is unknowable, and
    Python's json (last wins) and other decoders (first wins, or error) would disagree."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    """``NaN``/``Infinity`` are not JSON; Python's decoder accepts them by default."""
    raise _NonStandardConstant(name)


def parse_json_line(line: bytes | str) -> object:
    """Decode one JSON Lines record (bytes or text) into a Python value.

    Raises ``BadRecord("decode", ...)`` for bytes that are not UTF-8 (with the byte offset), text that
    is not JSON (with line, column and character position), duplicate keys in an object, ``NaN`` /
    ``Infinity``, integers too long to convert, nesting too deep, and a blank line. A leading UTF-8 byte
    order mark is skipped (editors on Windows add one to the first line of a file). Whether the value is
    an event is :func:`validate_event`'s business.
    """
    try:
        return _parse_json_line(line)
    except BadRecord:
        raise
    except Exception as exc:
        raise BadRecord("decode", f"cannot decode the line ({type(exc).__name__})") from exc


def _parse_json_line(line: bytes | str) -> object:
    if isinstance(line, bytes | bytearray | memoryview):
        data = bytes(line)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRecord("decode", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    elif isinstance(line, str):
        text = line[1:] if line.startswith("\ufeff") else line
    else:
        raise BadRecord("decode", f"expected bytes or text, got {type(line).__name__}")
    if not text.strip():
        raise BadRecord("decode", "empty line")
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise BadRecord(
            "decode", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None
    except _DuplicateKey as exc:
        raise BadRecord("decode", f"invalid JSON: duplicate key {_show(exc.key)} in an object") from None
    except _NonStandardConstant as exc:
        raise BadRecord("decode", f"invalid JSON: {exc.name} is not a JSON value") from None
    except RecursionError:
        raise BadRecord("decode", "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's conversion limit
        raise BadRecord("decode", f"invalid JSON: {exc}") from None
