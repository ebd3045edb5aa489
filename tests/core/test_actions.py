"""One test per action (actions.md §1, §2 and the Queue section): the events that produce it and its
attributes. Every run also checks, for all actions produced, that the Kind is the catalogue's, that
Phase is set exactly for durable actions, that End/retrospective records carry StartTime and
DurationMs = EventTime − StartTime, and that every Agent action has exactly one Place mirror.

``covers(...)`` records which catalogue names a test demonstrates; the last test fails for any
catalogue name no test covers, so a new action cannot be forgotten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.records.catalog import (
    ACTION_KINDS,
    AGENT_ACTIONS,
    AGENT_STATE_ACTIONS,
    DURABLE,
    QUEUE_ACTIONS,
    RETROSPECTIVE,
)
from tests.core.builders import Day, mirror_key, names, on, one

COVERED: set[str] = set()


def covers(*actions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        COVERED.update(actions)
        return fn

    return mark


def run(day: Day, events: list[dict], allow_anomalies: bool = False) -> list[dict]:
    """Drive the core and check the invariants every action record must satisfy."""
    driver = CoreDriver()
    actions = driver.push_all(events)
    if not allow_anomalies:
        assert not driver.anomalies, driver.anomalies
    for a in actions:
        assert a["Kind"] == ACTION_KINDS[a["Action"]], a
        assert a["TenantID"] == day.tenant
        assert (a["Phase"] is not None) == (a["Kind"] == DURABLE), a
        if a["Phase"] == "End" or a["Kind"] == RETROSPECTIVE:
            assert a["DurationMs"] == a["EventTime"] - a["StartTime"] >= 0, a
        else:
            assert "DurationMs" not in a and "StartTime" not in a, a
        if a["Action"] in AGENT_STATE_ACTIONS:
            assert "InteractionID" not in a, a
        if a["ObjectType"] == "Queue":
            assert a["Action"] in QUEUE_ACTIONS
        else:
            assert a["Action"] in AGENT_ACTIONS
    agent_rows = Counter(
        (day.places[a["ObjectID"]], mirror_key(a)) for a in actions if a["ObjectType"] == "Agent"
    )
    place_rows = Counter((a["ObjectID"], mirror_key(a)) for a in actions if a["ObjectType"] == "Place")
    assert agent_rows == place_rows, "every Agent action is mirrored exactly once on its Place"
    assert len({a["ActionID"] for a in actions}) == len(actions)
    return actions


def mirrored(actions: list[dict], action: dict) -> dict:
    """The Place mirror of an Agent action."""
    [m] = [
        a
        for a in actions
        if a["ObjectType"] == "Place"
        and a["ObjectID"] == action["PlaceID"]
        and mirror_key(a) == mirror_key(action)
    ]
    return m


def handled_by(day: Day, iid: str, agent: str, start: float, **submitted: Any) -> list[dict]:
    """An interaction routed to ``agent`` and accepted (offer at start, accept at start + 5)."""
    return [
        day.at(start).submitted(iid, **submitted),
        day.at(start).invite(iid, agent),
        day.at(start + 5).added(iid, agent),
    ]


# --- agent state --------------------------------------------------------------------------------


@covers("Active", "Available", "Routable")
def test_login_ready_opens_active_available_routable_and_logout_ends_them() -> None:
    d = Day()
    actions = run(d, [d.at(0).login("a1", "p1", media={"email": True}), d.at(600).logout("a1")])
    for name in ("Active", "Available", "Routable"):
        start = one(actions, "Agent", "a1", name, phase="Start")
        end = one(actions, "Agent", "a1", name, phase="End")
        assert start["MediaTypeID"] == end["MediaTypeID"] == "email"
        assert start["EventTime"] == d.ms(0) and start["SourceEvent"] == "EventAgentLogin"
        assert (end["StartTime"], end["DurationMs"], end["SourceEvent"]) == (
            d.ms(0),
            600_000,
            "EventAgentLogout",
        )
        assert start["AgentID"] == "a1" and start["PlaceID"] == "p1"
        assert mirrored(actions, end)["ObjectID"] == "p1"
    assert not on(actions, "Agent", "a1", "NotRoutable")


@covers("Blocked", "NotRoutable")
def test_blocked_carries_the_reason_and_splits_by_reason() -> None:
    d = Day()
    lunch, brk, brk2 = {"ReasonCode": "Lunch"}, {"ReasonCode": "Break"}, {"ReasonCode": "Coffee"}
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"chat": (False, lunch)}),
            d.at(300).ready("a1", "chat"),
            d.at(400).not_ready("a1", "chat", brk),
            d.at(500).media_reason("a1", "chat", brk2),
            d.at(600).logout("a1"),
        ],
    )
    blocked = on(actions, "Agent", "a1", "Blocked")
    assert [(b["Phase"], b.get("Reason"), b.get("DurationMs")) for b in blocked] == [
        ("Start", lunch, None),
        ("End", lunch, 300_000),
        ("Start", brk, None),
        ("End", brk, 100_000),
        ("Start", brk2, None),
        ("End", brk2, 100_000),
    ]
    assert all(b["MediaTypeID"] == "chat" for b in blocked)
    assert mirrored(actions, blocked[0])["Reason"] == lunch
    available = on(actions, "Agent", "a1", "Available")
    assert [(a["Phase"], a["EventTime"]) for a in available] == [("Start", d.ms(300)), ("End", d.ms(400))]
    not_routable = on(actions, "Agent", "a1", "NotRoutable")
    assert [(a["Phase"], a["EventTime"]) for a in not_routable] == [
        ("Start", d.ms(0)),
        ("End", d.ms(300)),
        ("Start", d.ms(400)),
        ("End", d.ms(600)),
    ]


def test_media_added_defaults_to_not_ready_and_media_removed_ends_everything_for_it() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"email": True}),
            d.at(10).media_added("a1", "chat"),
            d.at(20).media_removed("a1", "chat"),
        ],
    )
    chat = [a for a in on(actions, "Agent", "a1", media="chat")]
    assert names(chat) == [
        "Active:Start",
        "Blocked:Start",
        "NotRoutable:Start",
        "Blocked:End",
        "NotRoutable:End",
        "Active:End",
    ]
    assert all(a["EventTime"] == d.ms(20) for a in chat[3:])


@covers("DoNotDisturb")
def test_do_not_disturb_is_agent_wide_without_media() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"email": True, "chat": True}),
            d.at(60).dnd_on("a1"),
            d.at(90).dnd_off("a1"),
        ],
    )
    start = one(actions, "Agent", "a1", "DoNotDisturb", phase="Start")
    end = one(actions, "Agent", "a1", "DoNotDisturb", phase="End")
    assert "MediaTypeID" not in start and "MediaTypeID" not in end
    assert end["DurationMs"] == 30_000
    assert mirrored(actions, start)["ObjectID"] == "p1"
    # DND makes every media NotRoutable for its duration
    for media in ("chat", "email"):
        assert [a["EventTime"] for a in on(actions, "Agent", "a1", "NotRoutable", media=media)] == [
            d.ms(60),
            d.ms(90),
        ]


# --- offers -------------------------------------------------------------------------------------


@covers("Delivering", "DeliveringStarted", "Accepted")
@pytest.mark.parametrize("operation", [None, "Route"])
def test_routed_offer_accepted(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(60).submitted("i1", "email", queue="q_in", MediaServerID="EmailServer"),
            d.at(90).taken("i1", "q_in", RouterID="urs1", StrategyID="s1"),
            d.at(90).invite("i1", "a1", operation=operation),
            d.at(100).added("i1", "a1"),
        ],
    )
    dstart = one(actions, "Agent", "a1", "Delivering", phase="Start")
    started = one(actions, "Agent", "a1", "DeliveringStarted")
    dend = one(actions, "Agent", "a1", "Delivering", phase="End")
    accepted = one(actions, "Agent", "a1", "Accepted")
    for a in (dstart, started, dend, accepted):
        assert (a["InteractionID"], a["MediaTypeID"], a["AgentID"], a["PlaceID"]) == (
            "i1",
            "email",
            "a1",
            "p1",
        )
        assert (a["Queue"], a["MediaServerID"], a["RouterID"], a["StrategyID"]) == (
            "q_in",
            "EmailServer",
            "urs1",
            "s1",
        )
    assert dstart["EventTime"] == started["EventTime"] == d.ms(90)
    assert (accepted["StartTime"], accepted["DurationMs"], accepted["EventTime"]) == (
        d.ms(90),
        10_000,
        d.ms(100),
    )
    assert dend["DurationMs"] == 10_000
    assert mirrored(actions, accepted)["ObjectID"] == "p1"
    for name in ("TransferTaken", "ConferenceJoined", "CoachingByRequestInitiated", "Pulled"):
        assert not on(actions, "Agent", "a1", name)


@covers("Rejected")
def test_rejected_offer_carries_reason_and_offer_duration() -> None:
    d = Day()
    busy = {"ReasonCode": "Busy"}
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"chat": True}),
            d.at(10).submitted("c1", "chat"),
            d.at(10).invite("c1", "a1"),
            d.at(25).rejected("c1", "a1", busy),
        ],
    )
    rejected = one(actions, "Agent", "a1", "Rejected")
    assert (rejected["DurationMs"], rejected["Reason"], rejected["InteractionID"]) == (15_000, busy, "c1")
    assert one(actions, "Agent", "a1", "Delivering", phase="End")["DurationMs"] == 15_000
    assert not on(actions, "Agent", "a1", "Handling")


@covers("Revoked")
def test_revoked_offer_and_party_removed_while_offered() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"chat": True}),
            d.at(10).submitted("c1", "chat"),
            d.at(10).invite("c1", "a1"),
            d.at(40).revoked("c1", "a1"),
            d.at(50).invite("c1", "a1"),
            d.at(52).removed("c1", "a1"),  # "EventPartyRemoved (X) with an open offer: as EventRevoked"
        ],
    )
    revoked = on(actions, "Agent", "a1", "Revoked")
    assert [(r["DurationMs"], r["SourceEvent"]) for r in revoked] == [
        (30_000, "EventRevoked"),
        (2_000, "EventPartyRemoved"),
    ]
    assert [e["DurationMs"] for e in on(actions, "Agent", "a1", "Delivering", phase="End")] == [30_000, 2_000]


def test_revoked_while_handling_a_pulled_interaction_ends_handling() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(0).submitted("i1", queue="q"),
            d.at(10).taken("i1", "q", by_agent="a1"),
            d.at(10).added("i1", "a1"),
            d.at(70).revoked("i1", "a1"),  # keep-alive expired
        ],
    )
    revoked = one(actions, "Agent", "a1", "Revoked")
    assert (revoked["StartTime"], revoked["DurationMs"]) == (d.ms(10), 60_000)
    assert one(actions, "Agent", "a1", "Handling", phase="End")["DurationMs"] == 60_000
    assert one(actions, "Agent", "a1", "StoppedInbound")["DurationMs"] == 60_000


@covers("InteractionAbandonedDuringOffering")
def test_stopped_during_offer_is_abandoned_never_also_revoked() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"chat": True}),
            d.at(0).submitted("c1", "chat"),
            d.at(10).invite("c1", "a1"),
            d.at(15).stopped("c1", {"StopReason": "CustomerLeft"}),
            d.at(15).revoked("c1", "a1"),  # trailing
        ],
    )
    abandoned = one(actions, "Agent", "a1", "InteractionAbandonedDuringOffering")
    assert (abandoned["DurationMs"], abandoned["InteractionID"], abandoned["MediaTypeID"]) == (
        5_000,
        "c1",
        "chat",
    )
    assert abandoned["Reason"] == {"StopReason": "CustomerLeft"}
    assert not on(actions, "Agent", "a1", "Revoked")
    assert len(on(actions, "Agent", "a1", "Delivering", phase="End")) == 1


# --- handling -----------------------------------------------------------------------------------


@covers("Handling", "HandlingStarted", "HandlingInbound", "HandlingInboundStarted", "StoppedInbound")
def test_inbound_handling_carries_user_data_changed_meanwhile() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            *handled_by(d, "i1", "a1", 10, UserData={"Subject": "Hello", "Lang": "en"}),
            d.at(30).properties("i1", added={"Case": "42"}, changed={"Lang": "fr"}, deleted=["Subject"]),
            d.at(315).removed("i1", "a1"),
            d.at(315).stopped("i1"),
        ],
    )
    for name in ("Handling", "HandlingInbound"):
        start = one(actions, "Agent", "a1", name, phase="Start")
        end = one(actions, "Agent", "a1", name, phase="End")
        assert start["EventTime"] == d.ms(15) and start["UserData"] == {"Subject": "Hello", "Lang": "en"}
        assert end["DurationMs"] == 300_000 and end["UserData"] == {"Lang": "fr", "Case": "42"}
    for name in ("HandlingStarted", "HandlingInboundStarted"):
        assert one(actions, "Agent", "a1", name)["EventTime"] == d.ms(15)
    stopped = one(actions, "Agent", "a1", "StoppedInbound")
    assert (stopped["StartTime"], stopped["DurationMs"], stopped["InteractionID"]) == (
        d.ms(15),
        300_000,
        "i1",
    )
    assert stopped["UserData"] == {"Lang": "fr", "Case": "42"}
    assert mirrored(actions, stopped)["ObjectID"] == "p1"
    assert not on(actions, "Agent", "a1", "HandlingOutbound") and not on(
        actions, "Agent", "a1", "StoppedOutbound"
    )


@covers(
    "StartedOutbound",
    "InteractionResponded",
    "HandlingOutbound",
    "HandlingOutboundStarted",
    "StoppedOutbound",
)
@pytest.mark.parametrize("operation", [None, "Submit"])
def test_agent_reply_is_started_outbound_and_responded(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(10).submitted(
                "r1", "email", itype="Outbound", agent="a1", parent="i1", InteractionSubtype="OutboundReply"
            ),
            d.at(10).added("r1", "a1", operation=operation),
            d.at(70).removed("r1", "a1"),
            d.at(70).stopped("r1"),
        ],
    )
    responded = one(actions, "Agent", "a1", "InteractionResponded")
    assert (responded["InteractionID"], responded["ParentInteractionID"]) == ("r1", "i1")
    assert one(actions, "Agent", "a1", "StartedOutbound")["MediaTypeID"] == "email"
    assert one(actions, "Agent", "a1", "HandlingOutboundStarted")["EventTime"] == d.ms(10)
    assert one(actions, "Agent", "a1", "HandlingOutbound", phase="End")["DurationMs"] == 60_000
    assert one(actions, "Agent", "a1", "StoppedOutbound")["DurationMs"] == 60_000
    assert not on(actions, "Agent", "a1", "HandlingInbound") and not on(actions, "Agent", "a1", "Accepted")


def test_outbound_without_parent_is_not_a_response() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(10).submitted("o1", "email", itype="Outbound", agent="a1"),
            d.at(10).added("o1", "a1"),
        ],
    )
    assert one(actions, "Agent", "a1", "StartedOutbound")
    assert not on(actions, "Agent", "a1", "InteractionResponded")


@covers("StartedInternal", "HandlingInternal", "HandlingInternalStarted", "StoppedInternal")
@pytest.mark.parametrize("operation", [None, "Submit"])
def test_internal_interaction_submitted_by_agent(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1", media={"workitem": True}),
            d.at(10).submitted("w1", "workitem", itype="Internal", agent="a1"),
            d.at(10).added("w1", "a1", operation=operation),
            d.at(40).removed("w1", "a1"),
        ],
    )
    assert one(actions, "Agent", "a1", "StartedInternal")["MediaTypeID"] == "workitem"
    assert one(actions, "Agent", "a1", "HandlingInternalStarted")
    assert one(actions, "Agent", "a1", "HandlingInternal", phase="End")["DurationMs"] == 30_000
    assert one(actions, "Agent", "a1", "StoppedInternal")["DurationMs"] == 30_000
    assert not on(actions, "Agent", "a1", "StartedOutbound")


def test_interaction_type_is_kept_from_earlier_events() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(0).submitted("o1", itype="Outbound"),
            d.at(10).invite("o1", "a1"),  # the invitation does not repeat InteractionType
            d.at(20).added("o1", "a1"),
        ],
    )
    assert one(actions, "Agent", "a1", "HandlingOutbound", phase="Start")


# --- transfer, conference, coaching -----------------------------------------------------------


def two_agents(d: Day) -> list[dict]:
    return [
        d.at(0).login("a1", "p1"),
        d.at(0).login("a2", "p2"),
        d.at(0).login("sup", "p9"),
        *handled_by(d, "i1", "a1", 10),
    ]


@covers("TransferTaken", "TransferMade")
@pytest.mark.parametrize("operation", [None, "Transfer"])
def test_transfer(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            *two_agents(d),
            d.at(60).invite("i1", "a2", operation=operation),
            d.at(70).added("i1", "a2"),
            d.at(70).removed("i1", "a1"),
        ],
    )
    taken = one(actions, "Agent", "a2", "TransferTaken")
    made = one(actions, "Agent", "a1", "TransferMade")
    assert taken["EventTime"] == made["EventTime"] == d.ms(70)
    assert (made["InteractionID"], made["AgentID"], made["PlaceID"]) == ("i1", "a1", "p1")
    assert mirrored(actions, made)["ObjectID"] == "p1"
    assert one(actions, "Agent", "a2", "Accepted")["DurationMs"] == 10_000
    assert one(actions, "Agent", "a1", "StoppedInbound")["DurationMs"] == 55_000
    assert not on(actions, "Agent", "a2", "ConferenceJoined")


def test_transfer_inviter_is_the_handling_party_that_joined_last() -> None:
    d = Day()
    actions = run(
        d,
        [
            *two_agents(d),
            d.at(20).invite("i1", "sup", visibility="Conference"),
            d.at(25).added("i1", "sup"),
            d.at(60).invite("i1", "a2"),
            d.at(70).added("i1", "a2"),
        ],
    )
    assert one(actions, "Agent", "sup", "TransferMade")["InteractionID"] == "i1"
    assert not on(actions, "Agent", "a1", "TransferMade")


@covers("ConferenceJoined", "ConferenceMade")
@pytest.mark.parametrize(("operation", "visibility"), [(None, "Conference"), ("Conference", None)])
def test_conference(operation: str | None, visibility: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            *two_agents(d),
            d.at(60).invite("i1", "a2", operation=operation, visibility=visibility),
            d.at(62).added("i1", "a2"),
            d.at(120).removed("i1", "a2"),
        ],
    )
    joined = one(actions, "Agent", "a2", "ConferenceJoined")
    made = one(actions, "Agent", "a1", "ConferenceMade")
    assert joined["EventTime"] == made["EventTime"] == d.ms(62)
    assert made["PlaceID"] == "p1" and joined["PlaceID"] == "p2"
    assert one(actions, "Agent", "a2", "Handling", phase="End")["DurationMs"] == 58_000
    assert not on(actions, "Agent", "a2", "TransferTaken") and not on(
        actions, "Agent", "a1", "Handling", phase="End"
    )


@covers("CoachingRequested", "CoachingByRequestInitiated", "BeingCoached")
@pytest.mark.parametrize(("operation", "visibility"), [(None, "Coach"), ("CoachRequest", "Coach")])
def test_coaching_by_request(operation: str | None, visibility: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            *two_agents(d),
            d.at(60).invite("i1", "sup", operation=operation, visibility=visibility),
            d.at(80).added("i1", "sup"),
        ],
    )
    requested = one(actions, "Agent", "a1", "CoachingRequested")
    assert (requested["EventTime"], requested["InteractionID"], requested["PlaceID"]) == (
        d.ms(60),
        "i1",
        "p1",
    )
    initiated = one(actions, "Agent", "sup", "CoachingByRequestInitiated")
    assert (initiated["StartTime"], initiated["DurationMs"]) == (d.ms(60), 20_000)
    coached = one(actions, "Agent", "a1", "BeingCoached")
    assert coached["EventTime"] == d.ms(80)
    assert mirrored(actions, coached)["ObjectID"] == "p1"
    # a coach is Handling (typed twin included)
    assert one(actions, "Agent", "sup", "HandlingInbound", phase="Start")
    assert one(actions, "Agent", "sup", "HandlingInboundStarted")


# --- intrusion ----------------------------------------------------------------------------------


def conference_of_two(d: Day) -> list[dict]:
    return [
        *two_agents(d),
        d.at(20).invite("i1", "a2", visibility="Conference"),
        d.at(22).added("i1", "a2"),
    ]


@covers("MonitoringInitiated", "BeingMonitored")
@pytest.mark.parametrize("operation", [None, "Intrude"])
def test_monitoring_by_intrusion(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            *conference_of_two(d),
            d.at(60).added("i1", "sup", operation=operation, visibility="Monitor"),
            d.at(90).removed("i1", "sup"),
        ],
    )
    assert one(actions, "Agent", "sup", "MonitoringInitiated")["EventTime"] == d.ms(60)
    for agent in ("a1", "a2"):
        assert one(actions, "Agent", agent, "BeingMonitored")["EventTime"] == d.ms(60)
    assert names(actions, "Agent", "sup") == [
        "Active:Start",
        "Available:Start",
        "Routable:Start",
        "MonitoringInitiated",
    ], "a monitoring party gets no Handling"


@covers("CoachingByIntrusionInitiated")
@pytest.mark.parametrize("operation", [None, "Intrude"])
def test_coaching_by_intrusion(operation: str | None) -> None:
    d = Day()
    actions = run(
        d, [*conference_of_two(d), d.at(60).added("i1", "sup", operation=operation, visibility="Coach")]
    )
    assert one(actions, "Agent", "sup", "CoachingByIntrusionInitiated")
    assert one(actions, "Agent", "a1", "BeingCoached") and one(actions, "Agent", "a2", "BeingCoached")
    assert one(actions, "Agent", "sup", "Handling", phase="Start")
    assert one(actions, "Agent", "sup", "HandlingInboundStarted")


@covers("ConferenceJoinedByIntrusion")
@pytest.mark.parametrize("operation", [None, "Intrude"])
def test_conference_by_intrusion(operation: str | None) -> None:
    d = Day()
    actions = run(
        d, [*two_agents(d), d.at(60).added("i1", "sup", operation=operation, visibility="Conference")]
    )
    assert one(actions, "Agent", "sup", "ConferenceJoinedByIntrusion")["EventTime"] == d.ms(60)
    assert one(actions, "Agent", "sup", "Handling", phase="Start")
    assert not on(actions, "Agent", "a1", "ConferenceMade") and not on(
        actions, "Agent", "sup", "ConferenceJoined"
    )


# --- pull ---------------------------------------------------------------------------------------


@covers("Pulled")
@pytest.mark.parametrize("operation", [None, "Pull"])
def test_pulled_from_queue(operation: str | None) -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(0).submitted("i1", queue="q"),
            d.at(30).taken("i1", "q", by_agent="a1", ViewID="v1"),
            d.at(30).added(
                "i1", "a1", operation=operation, ViewID="v1", TargetAgentID="a1", TargetPlaceID="p1"
            ),
        ],
    )
    pulled = one(actions, "Agent", "a1", "Pulled")
    assert (pulled["ViewID"], pulled["TargetAgentID"], pulled["TargetPlaceID"]) == ("v1", "a1", "p1")
    assert (pulled["InteractionID"], pulled["MediaTypeID"]) == ("i1", "email")
    assert mirrored(actions, pulled)["ViewID"] == "v1"
    assert one(actions, "Agent", "a1", "Handling", phase="Start")
    assert not on(actions, "Agent", "a1", "Accepted")
    assert one(actions, "Queue", "q", "InteractionDistributed")["DurationMs"] == 30_000


def workbin_round_trip(d: Day, operation: str | None = None, **added: Any) -> list[dict]:
    return [
        d.at(0).login("a1", "p1"),
        *handled_by(d, "i1", "a1", 0),
        d.at(60).removed("i1", "a1"),
        d.at(60).workbin_placed("i1", "draft", WorkbinAgentID="a1"),
        d.at(600).workbin_taken("i1", "draft", by_agent="a1", WorkbinAgentID="a1"),
        d.at(600).added("i1", "a1", operation=operation, **added),
    ]


def test_pulled_from_workbin_with_attributes_on_the_party_event() -> None:
    d = Day()
    actions = run(d, workbin_round_trip(d, WorkbinTypeID="draft", WorkbinAgentID="a1"))
    pulled = one(actions, "Agent", "a1", "Pulled")
    assert (pulled["WorkbinTypeID"], pulled["WorkbinAgentID"]) == ("draft", "a1")
    assert (pulled["TargetAgentID"], pulled["TargetPlaceID"]) == ("a1", "p1")


@pytest.mark.parametrize("operation", [None, "Pull"])
def test_pulled_from_workbin_carries_the_workbin(operation: str | None) -> None:
    """Regression (fixed in ece50d1): the workbin known from EventPlacedInWorkbin / EventTakenFromWorkbin
    reaches Pulled even when EventPartyAdded does not repeat it (actions.md §1 'for Pulled the
    workbin/view/target attributes')."""
    d = Day()
    actions = run(d, workbin_round_trip(d, operation))
    pulled = one(actions, "Agent", "a1", "Pulled")
    assert (pulled["WorkbinTypeID"], pulled["WorkbinAgentID"]) == ("draft", "a1")
    assert (pulled["TargetAgentID"], pulled["TargetPlaceID"]) == ("a1", "p1")
    assert len(on(actions, "Agent", "a1", "Handling", phase="Start")) == 2


def test_pull_mark_is_only_for_the_agent_that_took_it() -> None:
    """Taken by a1 but added a2 (no offer): not a pull; unknown operation, counted; a2 still Handles."""
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all(
        [
            d.at(0).login("a1", "p1"),
            d.at(0).login("a2", "p2"),
            d.at(0).submitted("i1", queue="q"),
            d.at(30).taken("i1", "q", by_agent="a1"),
            d.at(30).added("i1", "a2"),
        ]
    )
    assert not on(actions, "Agent", "a2", "Pulled")
    assert one(actions, "Agent", "a2", "Handling", phase="Start")
    assert driver.anomalies["unknown-operation"] == 1


# --- queue --------------------------------------------------------------------------------------


@covers("InteractionEntered", "Waiting", "InteractionDistributed")
def test_queue_entered_waiting_distributed() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(60).submitted("i1", "email", queue="q_in", UserData={"k": "v"}),
            d.at(90).taken("i1", "q_in", by_agent="a1"),
            d.at(90).invite("i1", "a1"),
        ],
    )
    entered = one(actions, "Queue", "q_in", "InteractionEntered")
    assert (entered["EventTime"], entered["InteractionID"], entered["MediaTypeID"]) == (
        d.ms(60),
        "i1",
        "email",
    )
    assert entered["Queue"] == "q_in" and entered["UserData"] == {"k": "v"}
    assert one(actions, "Queue", "q_in", "Waiting", phase="Start")["EventTime"] == d.ms(60)
    assert one(actions, "Queue", "q_in", "Waiting", phase="End")["DurationMs"] == 30_000
    distributed = one(actions, "Queue", "q_in", "InteractionDistributed")
    assert (distributed["StartTime"], distributed["DurationMs"]) == (d.ms(60), 30_000)
    assert not [a for a in actions if a["ObjectType"] == "Place" and a["Action"] in QUEUE_ACTIONS]


@covers("InteractionCleared")
def test_taken_from_queue_not_by_an_agent_is_cleared() -> None:
    d = Day()
    actions = run(d, [d.at(0).submitted("i1", queue="q"), d.at(45).taken("i1", "q")])
    assert one(actions, "Queue", "q", "InteractionCleared")["DurationMs"] == 45_000
    assert not on(actions, "Queue", "q", "InteractionDistributed")


@covers("InteractionDistributedToQueue")
def test_moved_to_another_queue() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            d.at(0).submitted("i1", queue="q1"),
            d.at(20).queued("i1", "q2", previous="q1"),
        ],
    )
    moved = one(actions, "Queue", "q1", "InteractionDistributedToQueue")
    assert (moved["DurationMs"], moved["StartTime"]) == (20_000, d.ms(0))
    assert one(actions, "Queue", "q1", "Waiting", phase="End")["DurationMs"] == 20_000
    assert one(actions, "Queue", "q2", "InteractionEntered")["EventTime"] == d.ms(20)
    assert one(actions, "Queue", "q2", "Waiting", phase="Start")


def test_placed_in_queue_ends_handling() -> None:
    d = Day()
    actions = run(
        d,
        [
            d.at(0).login("a1", "p1"),
            *handled_by(d, "i1", "a1", 0),
            d.at(100).queued("i1", "q_back"),
        ],
    )
    assert one(actions, "Agent", "a1", "Handling", phase="End")["DurationMs"] == 95_000
    assert one(actions, "Agent", "a1", "StoppedInbound")
    assert one(actions, "Queue", "q_back", "Waiting", phase="Start")


@covers("InteractionDeleted")
def test_stopped_while_waiting_is_deleted() -> None:
    d = Day()
    actions = run(d, [d.at(0).submitted("i1", queue="q"), d.at(300).stopped("i1")])
    assert one(actions, "Queue", "q", "InteractionDeleted")["DurationMs"] == 300_000
    assert one(actions, "Queue", "q", "Waiting", phase="End")["DurationMs"] == 300_000


# --- place mirror across a change of place -----------------------------------------------------


def test_handling_started_at_one_place_ends_on_that_place() -> None:
    d = Day()
    actions = CoreDriver().push_all(
        [
            d.at(0).login("a1", "p1"),
            *handled_by(d, "i1", "a1", 0),
            d.at(60).logout("a1"),
            d.at(120).login("a1", "p2"),
            d.at(180).removed("i1", "a1"),
        ]
    )
    assert [
        (a["ObjectID"], a["Phase"])
        for a in actions
        if a["ObjectType"] == "Place" and a["Action"] == "Handling"
    ] == [("p1", "Start"), ("p1", "End")]


# --- completeness -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(AGENT_ACTIONS | QUEUE_ACTIONS))
def test_every_catalogue_action_is_covered_by_a_test(name: str) -> None:
    assert name in COVERED, f"no test in {__name__} demonstrates {name}: add one with @covers({name!r})"
