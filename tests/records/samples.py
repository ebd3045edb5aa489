"""Sample records of every type, minimal and full, shared by the codec and Kafka round-trip tests."""

from __future__ import annotations

from typing import Any

T0 = 1_772_442_000_000  # 2026-03-02T09:00:00.000Z

MINIMAL: dict[str, dict[str, Any]] = {
    "ReportingEvent": {"Event": "EventAgentLogin", "EventTime": T0, "TenantID": "t1"},
    "ActionRecord": {
        "ActionID": "a-1",
        "Action": "Available",
        "Kind": "Durable",
        "ObjectType": "Agent",
        "ObjectID": "a1",
        "TenantID": "t1",
        "EventTime": T0,
        "SourceEvent": "EventAgentLogin",
    },
    "StatValue": {
        "Statistic": "Handled",
        "StatType": "Total_Handled",
        "Category": "TotalNumber",
        "ObjectType": "Agent",
        "ObjectID": "a1",
        "TenantID": "t1",
        "TimeProfile": "Default",
        "Unit": "count",
        "EmittedAt": T0,
        "Reason": "Change",
    },
    "DeadLetter": {"Payload": b"{not json", "ErrorKind": "decode", "Reason": "not valid JSON", "Time": T0},
}

FULL: dict[str, dict[str, Any]] = {
    "ReportingEvent": {
        "Event": "EventPlaceAgentState",
        "EventTime": T0 + 1,
        "TenantID": "t1",
        "EventID": "e-1",
        "SourceID": "IXN_1",
        "InteractionID": "i1",
        "ParentInteractionID": "i0",
        "MediaTypeID": "email",
        "InteractionType": "Inbound",
        "InteractionSubtype": "InboundNew",
        "Queue": "q_in",
        "PreviousQueue": "q_prev",
        "PartyType": "Agent",
        "AgentID": "a1",
        "PlaceID": "p1",
        "RouterID": "r1",
        "StrategyID": "s1",
        "MediaServerID": "EmailServer",
        "Operation": "Route",
        "Visibility": "Conference",
        "Reason": {"ReasonCode": "Lunch"},
        "UserData": {"Customer": "Zoë", "Segment": "gold"},
        "AddedProperties": {"k1": "v1"},
        "ChangedProperties": {"k2": "v2"},
        "DeletedProperties": ["k3", "k4"],
        "WorkbinTypeID": "wt",
        "WorkbinAgentID": "wa",
        "WorkbinGroupID": "wg",
        "WorkbinPlaceID": "wp",
        "WorkbinPlaceGroupID": "wpg",
        "ViewID": "v1",
        "TargetAgentID": "a2",
        "TargetPlaceID": "p2",
        "MediaList": [
            {"MediaTypeID": "email", "Ready": True, "Reason": None},
            {"MediaTypeID": "chat", "Ready": False, "Reason": {"NotReady": "Break"}},
        ],
        "Ready": True,
        "DoNotDisturb": False,
        "Interactions": [
            {"InteractionID": "i1", "MediaTypeID": "email", "InteractionType": "Inbound", "Queue": "q_in"},
            {"InteractionID": "i2", "MediaTypeID": None, "InteractionType": None, "Queue": None},
        ],
    },
    "ActionRecord": {
        "ActionID": "a-2",
        "Action": "HandlingInbound",
        "Kind": "Durable",
        "Phase": "End",
        "ObjectType": "Agent",
        "ObjectID": "a1",
        "TenantID": "t1",
        "EventTime": T0 + 300_000,
        "StartTime": T0,
        "DurationMs": 300_000,
        "SourceEvent": "EventPartyRemoved",
        "InteractionID": "i1",
        "MediaTypeID": "email",
        "PlaceID": "p1",
        "AgentID": "a1",
        "RouterID": "r1",
        "StrategyID": "s1",
        "MediaServerID": "EmailServer",
        "Queue": "q_in",
        "ParentInteractionID": "i0",
        "Reason": {"StopReason": "Done"},
        "UserData": {"Customer": "Zoë"},
        "AddedProperties": {"k1": "v1"},
        "ChangedProperties": {"k2": "v2"},
        "DeletedProperties": ["k3"],
        "WorkbinTypeID": "wt",
        "WorkbinAgentID": "wa",
        "WorkbinGroupID": "wg",
        "ViewID": "v1",
        "TargetAgentID": "a2",
        "TargetPlaceID": "p2",
    },
    "StatValue": {
        "Statistic": "Current_State",
        "StatType": "CurrentAgentState",
        "Category": "CurrentState",
        "ObjectType": "Agent",
        "ObjectID": "a1",
        "TenantID": "t1",
        "TimeProfile": "Default",
        "IntervalStart": T0,
        "IntervalEnd": T0 + 1_800_000,
        "Value": 16.666666666666668,
        "State": {"Status": "Available", "Since": 1772442000000},
        "Unit": "state",
        "EmittedAt": T0 + 5,
        "Reason": "Final",
    },
    "DeadLetter": {
        "Payload": b"\xff\xfe not utf-8",
        "SourceTopic": "mediastat.events",
        "SourcePartition": 0,
        "SourceOffset": 42,
        "ErrorKind": "unknown-event",
        "Reason": "Event 'EventFoo' is not a reporting event",
        "Time": T0 + 7,
    },
}


def with_nulls(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as a decoder returns it: every schema field present, absent ones as their default
    (None for the optional unions)."""
    from pipeline.records.schemas import load_schema

    fields = load_schema(record_type).raw["fields"]
    return {f["name"]: record.get(f["name"], f.get("default")) for f in fields}


# LateRecord (<prefix>.late): the full one embeds an action record as a decoder returns it.
MINIMAL["LateRecord"] = {
    "LateID": "agents/e-9",
    "Stage": "agents",
    "Reason": "reorder-window",
    "Detail": "event EventAgentReady for agent a1 came after input up to 09:00:10 was applied",
    "EventTime": T0,
    "LatenessMs": 10_000,
    "EmittedAt": T0 + 11_000,
}
FULL["LateRecord"] = {
    **MINIMAL["LateRecord"],
    "LateID": "statistics/a-2",
    "Stage": "statistics",
    "Reason": "interval-closed",
    "TenantID": "t1",
    "AgentID": "a1",
    "InteractionID": "i1",
    "SourceEvent": "EventPartyRemoved",
    "Actions": ["HandlingInbound"],
    "Action": with_nulls("ActionRecord", FULL["ActionRecord"]),
    "Input": '{"Event":"EventAgentReady"}',
}
