"""Fuzzing the input edge: whatever arrives, only BadRecord comes out, and what passes is sound.

A non-BadRecord exception in validation would crash a worker and stop its partition on the same
message after every restart (see validation.py's module docstring), so these properties matter more
than any single case. "Sound" means: the envelope is there with the right types, only schema fields
are kept, the result encodes with the Avro schema and as UTF-8 JSON, and validating it again changes
nothing (the pipeline may validate a record twice: at the bridge and at the tracker).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.records.catalog import ALL_EVENTS, INTERACTION_EVENTS
from pipeline.records.errors import ERROR_KINDS, BadRecord
from pipeline.records.keys import event_key
from pipeline.records.validation import (
    EVENT_FIELDS,
    MAX_EVENT_TIME_MS,
    MIN_EVENT_TIME_MS,
    PARTY_EVENTS,
    parse_json_line,
    validate_event,
)
from tests.golden import OWN

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(OWN.glob("*.events.jsonl"))
SCHEMA = fastavro.parse_schema(json.loads((ROOT / "schemas" / "ReportingEvent.avsc").read_text()))
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Valid events to mutate: every scenario line, plus a rich one using every field.
SEEDS: list[dict[str, Any]] = [
    json.loads(line) for p in SCENARIOS for line in p.read_text().splitlines() if line
]
SEEDS.append(
    {
        "Event": "EventPlaceAgentState",
        "EventTime": "2026-03-02T09:00:00.000Z",
        "TenantID": "t1",
        "EventID": "e1",
        "AgentID": "a1",
        "PlaceID": "p1",
        "InteractionType": "Outbound",
        "PartyType": "Agent",
        "Operation": "Pull",
        "Visibility": "Coach",
        "Reason": {"ReasonCode": "Lunch"},
        "UserData": {"Segment": "gold"},
        "DeletedProperties": ["k"],
        "MediaList": [{"MediaTypeID": "Chat", "Ready": True, "Reason": {"k": "v"}}],
        "DoNotDisturb": True,
        "Ready": False,
        "Interactions": [
            {"InteractionID": "i1", "MediaTypeID": "EMAIL", "InteractionType": "Inbound", "Queue": "q"}
        ],
    }
)

# --- strategies --------------------------------------------------------------------------------------------

_text = st.text(max_size=12)  # includes lone surrogates, NUL, non-BMP characters
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | _text
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
#: Keys that matter more than random text: the schema's fields, nested entry fields, near-misses.
_field_names = st.sampled_from([*EVENT_FIELDS, "Ready", "Reason", "eventTime", "agentid", "Foo"])
_event_names = st.sampled_from(sorted(ALL_EVENTS)) | st.sampled_from(["", "EventFoo", "eventpartyadded"])
_times = (
    st.text(max_size=30)
    | st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9:.]{0,15})?([Zz]|[+-][0-9:]{1,6})?\Z")
    | st.integers()
    | st.integers(min_value=MIN_EVENT_TIME_MS - 5, max_value=MAX_EVENT_TIME_MS + 5)
    | st.floats()
    | st.datetimes()
    | json_values
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with a few fields deleted, retyped, or replaced by junk, and extra fields added."""
    event = dict(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(_field_names)
        action = draw(st.sampled_from(["delete", "json", "text", "time", "event", "entry", "empty"]))
        if action == "delete":
            event.pop(name, None)
        elif action == "json":
            event[name] = draw(json_values)
        elif action == "text":
            event[name] = draw(st.text(max_size=20))
        elif action == "time":
            event["EventTime"] = draw(_times)
        elif action == "event":
            event["Event"] = draw(_event_names)
        elif action == "empty":
            event[name] = ""
        else:  # damage one nested entry
            key = draw(st.sampled_from(["MediaList", "Interactions"]))
            entry = draw(st.dictionaries(_field_names, json_values, max_size=4))
            event[key] = [*event.get(key, []), entry] if isinstance(event.get(key), list) else [entry]
    return event


# --- the properties ----------------------------------------------------------------------------------------


def check(obj: object) -> dict[str, Any] | None:
    """Validate ``obj``; assert only a well-formed BadRecord can come out and that output is sound."""
    try:
        event = validate_event(obj)
    except BadRecord as error:
        assert error.kind in ERROR_KINDS
        assert error.reason and "internal error" not in error.reason, error.reason
        assert len(error.reason) < 400
        return None
    assert event["Event"] in ALL_EVENTS
    assert type(event["EventTime"]) is int and MIN_EVENT_TIME_MS <= event["EventTime"] <= MAX_EVENT_TIME_MS
    assert isinstance(event["TenantID"], str) and event["TenantID"]
    assert set(event) <= set(EVENT_FIELDS)
    assert None not in event.values()
    assert list(event) == [name for name in EVENT_FIELDS if name in event]
    if event["Event"] in INTERACTION_EVENTS:
        assert event["InteractionID"]
    if event["Event"] in PARTY_EVENTS:
        assert event["PartyType"] != "Agent" or event["AgentID"]
    if "MediaTypeID" in event:
        assert event["MediaTypeID"] == event["MediaTypeID"].lower()
    assert isinstance(event_key(event), str) and event_key(event)
    json.dumps(event, ensure_ascii=False, allow_nan=False).encode("utf-8")
    fastavro.schemaless_writer(io.BytesIO(), SCHEMA, event)
    assert validate_event(event) == event
    return event


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    try:
        obj = parse_json_line(data)
    except BadRecord as error:
        assert error.kind == "decode"
        return
    check(obj)


@FUZZ
@given(json_values)
def test_random_json_values(value: object) -> None:
    check(value)
    try:
        line = json.dumps(value, allow_nan=False)
    except ValueError:
        return
    try:
        obj = parse_json_line(line.encode("utf-8", "surrogatepass"))
    except BadRecord as error:
        assert error.kind == "decode"
        return
    check(obj)


@FUZZ
@given(st.dictionaries(_field_names, json_values, max_size=8), _event_names, _times)
def test_random_objects_with_event_fields(fields: dict[str, Any], name: str, time: object) -> None:
    check({"Event": name, "EventTime": time, "TenantID": "t1", **fields})


@FUZZ
@given(mutated_events())
def test_mutated_valid_events(event: dict[str, Any]) -> None:
    check(event)
    try:
        line = json.dumps(event, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:
        return
    try:
        obj = parse_json_line(line.encode("utf-8", "surrogatepass"))
    except BadRecord as error:
        assert error.kind == "decode"
        return
    check(obj)


@FUZZ
@given(st.sampled_from(SEEDS), st.binary(min_size=1, max_size=4), st.data())
def test_corrupted_lines(event: dict[str, Any], junk: bytes, data: st.DataObject) -> None:
    line = json.dumps(event).encode()
    at = data.draw(st.integers(min_value=0, max_value=len(line)))
    cut = data.draw(st.integers(min_value=0, max_value=3))
    try:
        obj = parse_json_line(line[:at] + junk + line[at + cut :])
    except BadRecord as error:
        assert error.kind == "decode"
        return
    check(obj)


def test_every_seed_is_valid() -> None:
    assert len(SEEDS) > 40, "the scenarios of tests/scenarios were not found"
    for seed in SEEDS:
        assert check(seed) is not None
