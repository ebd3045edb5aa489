"""Validation and normalisation of reporting events (events.md; docs/input-validation.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.records.catalog import AGENT_EVENTS, ALL_EVENTS, INTERACTION_EVENTS
from pipeline.records.errors import BadRecord
from pipeline.records.keys import event_key
from pipeline.records.validation import (
    EVENT_FIELDS,
    MAX_EVENT_TIME_MS,
    MEDIA_EVENTS,
    PARTY_EVENTS,
    parse_json_line,
    validate_event,
)
from tests.golden import OWN

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(OWN.glob("*.events.jsonl"))
T0 = 1_772_442_000_000  # 2026-03-02T09:00:00.000Z
ISO0 = "2026-03-02T09:00:00.000Z"


def base(event: str, **fields: Any) -> dict[str, Any]:
    """A minimal valid event of any name, plus ``fields``."""
    record: dict[str, Any] = {"Event": event, "EventTime": ISO0, "TenantID": "t1"}
    if event in INTERACTION_EVENTS:
        record.update(InteractionID="i1", MediaTypeID="email")
    if event in AGENT_EVENTS:
        record["AgentID"] = "a1"
    if event in MEDIA_EVENTS:
        record["MediaTypeID"] = "email"
    if event in PARTY_EVENTS:
        record.update(AgentID="a1", PartyType="Agent")
    record.update(fields)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()


def bad(obj: object) -> BadRecord:
    with pytest.raises(BadRecord) as info:
        validate_event(obj)
    return info.value


# --- the schema and the scenarios -------------------------------------------------------------------------


def test_field_table_is_the_avro_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "ReportingEvent.avsc").read_text())
    assert list(EVENT_FIELDS) == [f["name"] for f in schema["fields"]]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_event_validates(path: Path) -> None:
    lines = path.read_bytes().splitlines()
    assert lines
    for line in lines:
        event = validate_event(parse_json_line(line))
        assert isinstance(event["EventTime"], int)
        assert event_key(event) in (event.get("InteractionID"), event.get("AgentID"))


@pytest.mark.parametrize("name", sorted(ALL_EVENTS))
def test_a_minimal_event_of_every_name_validates(name: str) -> None:
    event = validate_event(base(name))
    assert event["Event"] == name
    assert event["EventTime"] == T0
    assert event["TenantID"] == "t1"


def test_scenarios_cover_many_event_names() -> None:
    names = {json.loads(line)["Event"] for p in SCENARIOS for line in p.read_text().splitlines() if line}
    assert len(names) >= 10 and names <= ALL_EVENTS


# --- normalisation ---------------------------------------------------------------------------------------


def test_normalisation_time_media_unknown_fields_and_order() -> None:
    event = validate_event(
        {
            "Interactions": [{"InteractionID": "i9", "MediaTypeID": "Chat", "Foo": 1}],
            "MediaList": [{"MediaTypeID": "EMail", "Extra": True}, {"MediaTypeID": "SMS", "Ready": True}],
            "AgentID": "a1",
            "TenantID": "t1",
            "EventTime": "2026-03-02T10:00:00.250+01:00",
            "Event": "EventPlaceAgentState",
            "NotAField": {"deep": [1, 2]},
            "agentid": "ignored",
            "MediaTypeID": "WorkItem",
        }
    )
    assert event == {
        "Event": "EventPlaceAgentState",
        "EventTime": T0 + 250,
        "TenantID": "t1",
        "MediaTypeID": "workitem",
        "AgentID": "a1",
        "MediaList": [{"MediaTypeID": "email", "Ready": False}, {"MediaTypeID": "sms", "Ready": True}],
        "Interactions": [{"InteractionID": "i9", "MediaTypeID": "chat"}],
    }
    assert list(event) == [name for name in EVENT_FIELDS if name in event]


def test_epoch_ms_and_naive_times_are_utc_ms() -> None:
    assert validate_event(base("EventAgentLogin", EventTime=T0))["EventTime"] == T0
    assert validate_event(base("EventAgentLogin", EventTime="2026-03-02T09:00:00"))["EventTime"] == T0


def test_nulls_are_absent_as_from_an_avro_decoder() -> None:
    record = {name: None for name in EVENT_FIELDS}
    record.update(Event="EventAgentLogout", EventTime=T0, TenantID="t1", AgentID="a1")
    assert validate_event(record) == {
        "Event": "EventAgentLogout",
        "EventTime": T0,
        "TenantID": "t1",
        "AgentID": "a1",
    }


def test_output_is_a_fixed_point_and_input_is_not_mutated() -> None:
    record = base("EventPartyAdded", MediaTypeID="Email", PartyType=_DROP, Extra=1)
    snapshot = json.loads(json.dumps(record))
    once = validate_event(record)
    assert record == snapshot
    assert validate_event(once) == once


def test_integer_ids_become_strings_other_strings_stay_strict() -> None:
    event = validate_event(base("EventAgentLogin", TenantID=101, AgentID=7001, PlaceID=-3))
    assert (event["TenantID"], event["AgentID"], event["PlaceID"]) == ("101", "7001", "-3")
    assert bad(base("EventAgentLogin", AgentID=1.0)).kind == "wrong-type"
    assert bad(base("EventAgentLogin", AgentID=True)).kind == "wrong-type"
    assert bad(base("EventAgentLogin", AgentID=2**63)).kind == "wrong-type"
    assert (
        bad(base("EventPlacedInQueue", Queue=5)).reason
        == "EventPlacedInQueue: Queue must be a string, got integer"
    )


def test_empty_optional_strings_are_absent_but_whitespace_is_kept() -> None:
    event = validate_event(base("EventPlacedInQueue", Queue="", PlaceID="", InteractionType="", SourceID=" "))
    assert "Queue" not in event and "PlaceID" not in event and "InteractionType" not in event
    assert event["SourceID"] == " "


def test_maps_keep_empty_values_and_empty_maps_and_stringify_integers() -> None:
    event = validate_event(base("EventPropertiesChanged", UserData={}, AddedProperties={"a": "", "n": 42}))
    assert event["UserData"] == {}
    assert event["AddedProperties"] == {"a": "", "n": "42"}


def test_party_type_defaults() -> None:
    assert validate_event(base("EventPartyAdded", PartyType=_DROP))["PartyType"] == "Agent"
    stopped = validate_event(base("EventPartyRemoved", PartyType=_DROP, AgentID=_DROP, StrategyID="s1"))
    assert stopped["PartyType"] == "Unknown"
    assert (
        validate_event(base("EventPartyAdded", PartyType="Strategy", AgentID=_DROP))["PartyType"]
        == "Strategy"
    )
    assert validate_event(base("EventAgentInvited", PartyType=_DROP))["PartyType"] == "Agent"
    # not a party event: PartyType stays absent (EventTakenFromQueue without it means "cleared")
    assert "PartyType" not in validate_event(base("EventTakenFromQueue", AgentID="a1"))


def test_media_type_is_optional_after_submission() -> None:
    for name in sorted(INTERACTION_EVENTS - {"EventInteractionSubmitted"}):
        assert "MediaTypeID" not in validate_event(base(name, MediaTypeID=_DROP))


def test_custom_reporting_keeps_only_its_envelope() -> None:
    event = validate_event(
        base(
            "EventCustomReporting", InteractionID="i1", UserData={"nested": {"x": [1]}}, Queue=3, EventID="e1"
        )
    )
    assert event == {
        "Event": "EventCustomReporting",
        "EventTime": T0,
        "TenantID": "t1",
        "EventID": "e1",
        "InteractionID": "i1",
    }
    assert bad(base("EventCustomReporting", InteractionID=[1])).kind == "wrong-type"


# --- every error kind, with its reason -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kind", "reason"),
    [
        # the record itself
        ([], "wrong-type", "a reporting event must be a JSON object, got array"),
        ("x", "wrong-type", "a reporting event must be a JSON object, got string"),
        (None, "wrong-type", "a reporting event must be a JSON object, got null"),
        # the envelope
        ({}, "missing-field", "Event is required (absent)"),
        ({"Event": None}, "missing-field", "Event is required (null)"),
        ({"Event": ""}, "missing-field", "Event is required (empty)"),
        (
            {"event": "EventHeld"},
            "missing-field",
            "Event is required (absent; found 'event' — field names are case-sensitive)",
        ),
        ({"Event": 3}, "wrong-type", "Event must be a string, got integer"),
        ({"Event": True}, "wrong-type", "Event must be a string, got boolean"),
        ({"Event": "EventFoo"}, "unknown-event", "Event 'EventFoo' is not a known reporting event"),
        (
            {"Event": "eventpartyadded"},
            "unknown-event",
            "Event 'eventpartyadded' is not a known reporting event",
        ),
        ({"Event": "EventHeld"}, "missing-field", "EventHeld: EventTime is required (absent)"),
        (
            {"Event": "EventHeld", "EventTime": "yesterday"},
            "bad-time",
            "EventHeld: EventTime 'yesterday' is not an ISO-8601 time",
        ),
        (
            {"Event": "EventHeld", "EventTime": 1.5},
            "wrong-type",
            "EventHeld: EventTime must be an ISO-8601 time string, got float",
        ),
        (
            {"Event": "EventHeld", "EventTime": False},
            "wrong-type",
            "EventHeld: EventTime must be an ISO-8601 time, not a boolean",
        ),
        (
            {"Event": "EventHeld", "EventTime": -1},
            "bad-time",
            "EventHeld: EventTime -1 ms is outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z",
        ),
        (
            {"Event": "EventHeld", "EventTime": 10**30},
            "bad-time",
            f"EventHeld: EventTime {10**30} ms is outside 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z",
        ),
        (
            {"Event": "EventHeld", "EventTime": ISO0},
            "missing-field",
            "EventHeld: TenantID is required (absent)",
        ),
        (
            {"Event": "EventHeld", "EventTime": ISO0, "TenantID": ""},
            "missing-field",
            "EventHeld: TenantID is required (empty)",
        ),
        (
            {"Event": "EventHeld", "EventTime": ISO0, "TenantID": {}},
            "wrong-type",
            "EventHeld: TenantID must be a string, got object",
        ),
    ],
)
def test_envelope_errors(obj: object, kind: str, reason: str) -> None:
    error = bad(obj)
    assert (error.kind, error.reason) == (kind, reason)


@pytest.mark.parametrize(
    ("record", "kind", "reason"),
    [
        # required by the event
        (
            base("EventHeld", InteractionID=_DROP),
            "missing-field",
            "EventHeld: InteractionID is required (absent)",
        ),
        (
            base("EventHeld", InteractionID=""),
            "missing-field",
            "EventHeld: InteractionID is required (empty)",
        ),
        (
            base("EventHeld", InteractionID=_DROP, interactionId="i1"),
            "missing-field",
            "EventHeld: InteractionID is required"
            " (absent; found 'interactionId' — field names are case-sensitive)",
        ),
        (
            base("EventInteractionSubmitted", MediaTypeID=None),
            "missing-field",
            "EventInteractionSubmitted: MediaTypeID is required to create an interaction (null)",
        ),
        (
            base("EventAgentLogin", AgentID=_DROP),
            "missing-field",
            "EventAgentLogin: AgentID is required (absent)",
        ),
        (
            base("EventReadyForMedia", MediaTypeID=""),
            "missing-field",
            "EventReadyForMedia: MediaTypeID is required to name the media channel (empty)",
        ),
        (
            base("EventMediaAdded", MediaTypeID=_DROP),
            "missing-field",
            "EventMediaAdded: MediaTypeID is required to name the media channel (absent)",
        ),
        (
            base("EventPartyAdded", AgentID=_DROP),
            "missing-field",
            "EventPartyAdded: AgentID is required for PartyType Agent (absent)",
        ),
        (
            base("EventRejected", AgentID=""),
            "missing-field",
            "EventRejected: AgentID is required for PartyType Agent (empty)",
        ),
        (
            base("EventAgentInvited", AgentID=_DROP, PartyType=_DROP),
            "missing-field",
            "EventAgentInvited: AgentID is required (the invited agent) (absent)",
        ),
        (
            base("EventAgentInvited", PartyType="Queue"),
            "bad-value",
            "EventAgentInvited: PartyType 'Queue': an invitation is always for an Agent party",
        ),
        # wrong types, in every shape of field
        (
            base("EventHeld", InteractionID=["i1"]),
            "wrong-type",
            "EventHeld: InteractionID must be a string, got array",
        ),
        (
            base("EventHeld", InteractionSubtype=7),
            "wrong-type",
            "EventHeld: InteractionSubtype must be a string, got integer",
        ),
        (
            base("EventHeld", UserData=["a"]),
            "wrong-type",
            "EventHeld: UserData must be an object of string values, got array",
        ),
        (
            base("EventHeld", UserData={"k": {"x": "y"}}),
            "wrong-type",
            "EventHeld: UserData['k'] must be a string, got object",
        ),
        (
            base("EventHeld", Reason={"k": None}),
            "wrong-type",
            "EventHeld: Reason['k'] must be a string, got null",
        ),
        (
            base("EventHeld", Reason={"k": 1.5}),
            "wrong-type",
            "EventHeld: Reason['k'] must be a string, got number",
        ),
        (
            base("EventHeld", Reason={"k": True}),
            "wrong-type",
            "EventHeld: Reason['k'] must be a string, got boolean",
        ),
        (
            base("EventPropertiesChanged", DeletedProperties="k"),
            "wrong-type",
            "EventPropertiesChanged: DeletedProperties must be an array of strings, got string",
        ),
        (
            base("EventPropertiesChanged", DeletedProperties=["k", 2]),
            "wrong-type",
            "EventPropertiesChanged: DeletedProperties[1] must be a string, got integer",
        ),
        (
            base("EventMediaAdded", Ready="true"),
            "wrong-type",
            "EventMediaAdded: Ready must be a boolean, got string",
        ),
        (
            base("EventPlaceAgentState", DoNotDisturb=0),
            "wrong-type",
            "EventPlaceAgentState: DoNotDisturb must be a boolean, got integer",
        ),
        (
            base("EventAgentLogin", MediaList={"MediaTypeID": "chat"}),
            "wrong-type",
            "EventAgentLogin: MediaList must be an array of objects, got object",
        ),
        (
            base("EventAgentLogin", MediaList=["chat"]),
            "wrong-type",
            "EventAgentLogin: MediaList[0] must be an object, got string",
        ),
        (
            base("EventAgentLogin", MediaList=[{"MediaTypeID": "chat"}, {"Ready": True}]),
            "missing-field",
            "EventAgentLogin: MediaList[1].MediaTypeID is required (absent)",
        ),
        (
            base("EventAgentLogin", MediaList=[{"MediaTypeID": "chat", "Ready": "no"}]),
            "wrong-type",
            "EventAgentLogin: MediaList[0].Ready must be a boolean, got string",
        ),
        (
            base("EventAgentLogin", MediaList=[{"MediaTypeID": "chat", "Reason": "Lunch"}]),
            "wrong-type",
            "EventAgentLogin: MediaList[0].Reason must be an object of string values, got string",
        ),
        (
            base("EventPlaceAgentState", Interactions=[{"InteractionID": ""}]),
            "missing-field",
            "EventPlaceAgentState: Interactions[0].InteractionID is required (empty)",
        ),
        (
            base(
                "EventPlaceAgentState", Interactions=[{"InteractionID": "i1", "InteractionType": "inbound"}]
            ),
            "bad-value",
            "EventPlaceAgentState: Interactions[0].InteractionType 'inbound'"
            " is not one of Inbound, Outbound, Internal",
        ),
        # enumerations
        (
            base("EventPartyAdded", PartyType="agent"),
            "bad-value",
            "EventPartyAdded: PartyType 'agent' is not one of Agent, Strategy, MediaServer, Queue, Unknown",
        ),
        (
            base("EventPartyAdded", Operation="Steal"),
            "bad-value",
            "EventPartyAdded: Operation 'Steal'"
            " is not one of Route, Transfer, Conference, CoachRequest, Intrude, Pull, Submit",
        ),
        (
            base("EventPartyAdded", Visibility="Hidden"),
            "bad-value",
            "EventPartyAdded: Visibility 'Hidden' is not one of Conference, Coach, Monitor",
        ),
        (
            base("EventInteractionSubmitted", InteractionType=1),
            "wrong-type",
            "EventInteractionSubmitted: InteractionType must be a string, got integer",
        ),
        # strings that cannot be written out again
        (
            base("EventHeld", Queue="q\ud800"),
            "bad-value",
            "EventHeld: Queue is not valid Unicode (lone surrogate at character 1)",
        ),
        (
            base("EventHeld", UserData={"\udc80": "v"}),
            "bad-value",
            "EventHeld: UserData key '\\udc80' is not valid Unicode (lone surrogate at character 0)",
        ),
    ],
)
def test_field_errors(record: dict[str, Any], kind: str, reason: str) -> None:
    error = bad(record)
    assert (error.kind, error.reason) == (kind, reason)
    assert str(error) == f"{kind}: {reason}"


def test_long_values_are_shortened_in_reasons() -> None:
    error = bad({"Event": "Event" + "x" * 10_000})
    assert error.kind == "unknown-event"
    assert len(error.reason) < 150 and "(10005 characters)" in error.reason


def test_first_problem_in_a_fixed_order() -> None:
    # envelope before fields, fields in schema order, requirements last
    assert bad({"Event": "EventHeld", "TenantID": 1.0}).reason == "EventHeld: EventTime is required (absent)"
    record = base("EventPartyAdded", AgentID=_DROP, UserData=[], Queue=1)
    assert bad(record).reason == "EventPartyAdded: Queue must be a string, got integer"


# --- event_key ------------------------------------------------------------------------------------------


def test_event_key() -> None:
    assert event_key(validate_event(base("EventPartyAdded", InteractionID="i7", AgentID="a7"))) == "i7"
    assert event_key(validate_event(base("EventMediaAdded", AgentID="a7", InteractionID="i7"))) == "a7"
    assert event_key(validate_event(base("EventCustomReporting", AgentID="a7"))) == "a7"
    assert event_key(validate_event(base("EventCustomReporting"))) == "t1"
    with pytest.raises(BadRecord) as info:
        event_key({"Event": "EventFoo"})
    assert info.value.kind == "unknown-event"
    with pytest.raises(BadRecord) as info:
        event_key({"Event": "EventHeld"})
    assert info.value.reason == "EventHeld: InteractionID is required for the key"


# --- parse_json_line ------------------------------------------------------------------------------------


def test_parse_json_line_accepts_bytes_text_and_a_bom() -> None:
    assert parse_json_line(b'{"a": "\xc3\xa9"}\n') == {"a": "é"}
    assert parse_json_line('{"a": 1}') == {"a": 1}
    assert parse_json_line(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert parse_json_line(bytearray(b"[1]")) == [1]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            b'{"Event": "EventHeld",}',
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 23 (char 22)",
        ),
        (b'{"a": 1} x', "invalid JSON: Extra data at line 1 column 10 (char 9)"),
        (b"\xff{}", "not UTF-8: invalid start byte at byte 0"),
        (b'{"a": "\xc3"}', "not UTF-8: invalid continuation byte at byte 7"),
        (b"", "empty line"),
        ("  \n", "empty line"),
        (b'{"AgentID": "a1", "AgentID": "a2"}', "invalid JSON: duplicate key 'AgentID' in an object"),
        (b'{"t": NaN}', "invalid JSON: NaN is not a JSON value"),
        (b"-Infinity", "invalid JSON: -Infinity is not a JSON value"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: nested too deeply"),
        (42, "expected bytes or text, got int"),
    ],
)
def test_parse_json_line_errors(line: Any, reason: str) -> None:
    with pytest.raises(BadRecord) as info:
        parse_json_line(line)
    assert (info.value.kind, info.value.reason) == ("decode", reason)


def test_parse_json_line_rejects_huge_integers() -> None:
    with pytest.raises(BadRecord) as info:
        parse_json_line(b'{"EventTime": ' + b"9" * 5000 + b"}")
    assert info.value.kind == "decode" and "integer" in info.value.reason


def test_max_time_is_writable() -> None:
    assert validate_event(base("EventHeld", EventTime=MAX_EVENT_TIME_MS))["EventTime"] == MAX_EVENT_TIME_MS
    assert (
        validate_event(base("EventHeld", EventTime="9999-12-31T23:59:59.999Z"))["EventTime"]
        == MAX_EVENT_TIME_MS
    )
