"""Bad-but-valid input (events.md "Bad input and tolerance") and ordering (README "Order")."""

from __future__ import annotations

import pytest

from pipeline.core.driver import CoreDriver
from tests.core.builders import Day, names, on, one


def routed(d: Day, iid: str = "i1", agent: str = "a1", t: float = 10) -> list[dict]:
    return [d.at(t).submitted(iid), d.at(t).invite(iid, agent), d.at(t + 5).added(iid, agent)]


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicate_interaction_event_is_dropped_and_counted() -> None:
    d = Day()
    base = [d.at(0).login("a1", "p1"), *routed(d)]
    removed = d.at(100).removed("i1", "a1", EventID="e-rm")
    once = CoreDriver().push_all([*base, removed])
    driver = CoreDriver()
    twice = driver.push_all([*base, removed, removed])
    assert twice == once
    assert driver.counters["duplicates"] == 1
    assert not driver.anomalies


def test_duplicate_agent_event_is_dropped_and_counted() -> None:
    d = Day()
    dnd = d.at(30).dnd_on("a1", EventID="e-dnd")
    driver = CoreDriver()
    actions = driver.push_all(
        [d.at(0).login("a1", "p1", EventID="e-login"), dnd, dnd, d.at(40).dnd_off("a1")]
    )
    assert len(on(actions, "Agent", "a1", "DoNotDisturb", phase="Start")) == 1
    assert driver.counters["duplicates"] == 1


def test_duplicate_in_the_login_instant_keeps_the_routable_start() -> None:
    """A repeat of the login in its own millisecond is the agent's last input of that instant: it
    must not take the instant's Routable evaluation away with it (issue 7, defect 4)."""
    d = Day()
    login = d.at(0).login("a1", "p1", media={"email": True}, EventID="e-login")
    logout = d.at(60).logout("a1", EventID="e-logout")
    once = CoreDriver().push_all([login, logout])
    driver = CoreDriver()
    twice = driver.push_all([login, dict(login), logout])
    assert twice == once
    assert driver.counters["duplicates"] == 1
    for object_type, object_id in (("Agent", "a1"), ("Place", "p1")):
        start = one(twice, object_type, object_id, "Routable", phase="Start")
        end = one(twice, object_type, object_id, "Routable", phase="End")
        assert start["EventTime"] == d.ms(0)
        assert (end["StartTime"], end["DurationMs"]) == (d.ms(0), 60_000)


def test_same_event_id_for_another_key_is_not_a_duplicate() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all(
        [d.at(0).submitted("i1", queue="q", EventID="x"), d.at(0).submitted("i2", queue="q", EventID="x")]
    )
    assert len(on(actions, "Queue", "q", "InteractionEntered")) == 2
    assert driver.counters["duplicates"] == 0


def test_identical_events_without_event_id_are_both_applied_with_distinct_ids() -> None:
    d = Day()
    driver = CoreDriver()
    e = d.at(0).custom()
    actions = driver.push_all([d.at(0).login("a1", "p1"), e, d.at(5).dnd_on("a1"), d.at(5).dnd_on("a1")])
    assert driver.counters["duplicates"] == 0
    assert len({a["ActionID"] for a in actions}) == len(actions)


# --- reconstruction -----------------------------------------------------------------------------


def test_unknown_interaction_is_reconstructed_and_counted() -> None:
    d = Day()
    driver = CoreDriver()
    invite = d.event(
        "EventAgentInvited",
        InteractionID="x1",
        MediaTypeID="chat",
        AgentID="a1",
        PlaceID="p1",
        InteractionType="Outbound",
    )
    actions = driver.push_all(
        [
            d.at(0).login("a1", "p1", media={"chat": True}),
            invite,
            d.at(5).added("x1", "a1", MediaTypeID="chat"),
        ]
    )
    assert driver.anomalies == {"unknown-interaction": 1}
    start = one(actions, "Agent", "a1", "Delivering", phase="Start")
    assert (start["InteractionID"], start["MediaTypeID"]) == ("x1", "chat")
    assert one(actions, "Agent", "a1", "HandlingOutbound", phase="Start")
    assert one(actions, "Agent", "a1", "NotRoutable", phase="Start", media="chat"), (
        "the offer took the chat unit"
    )


def test_party_added_for_unknown_interaction_still_gives_handling() -> None:
    """Started mid-day: the first we hear of x1 is a1 joining it (no offer, no operation)."""
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.at(0).login("a1", "p1"), d.at(5).added("x1", "a1", MediaTypeID="email")])
    assert driver.anomalies["unknown-interaction"] == 1
    assert driver.anomalies["unknown-operation"] == 1
    assert one(actions, "Agent", "a1", "Handling", phase="Start")["MediaTypeID"] == "email"


def test_removal_of_an_unknown_party_counts_and_emits_nothing() -> None:
    d = Day()
    driver = CoreDriver()
    base = [d.at(0).login("a1", "p1"), d.at(0).login("a2", "p2"), *routed(d)]
    without = CoreDriver().push_all(base)
    actions = driver.push_all([*base, d.at(50).removed("i1", "a2")])
    assert actions == without
    assert driver.anomalies == {"unknown-party": 1}


def test_media_removed_that_was_never_added_counts_and_emits_nothing() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.at(0).login("a1", "p1"), d.at(5).media_removed("a1", "chat")])
    assert driver.anomalies == {"media-not-active": 1}
    assert not on(actions, "Agent", "a1", media="chat")


def test_readiness_for_a_media_never_added_reconstructs_it() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.at(5).not_ready("a1", "chat", {"R": "Lunch"}, PlaceID="p1")])
    assert driver.anomalies["media-not-active"] == 1 and driver.anomalies["not-logged-in"] == 1
    assert names(actions, "Agent", "a1") == ["Active:Start", "Blocked:Start", "NotRoutable:Start"]
    assert one(actions, "Agent", "a1", "Blocked")["Reason"] == {"R": "Lunch"}


def test_unknown_place_emits_only_the_agent_record_and_counts() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.event("EventMediaAdded", AgentID="ghost", MediaTypeID="email", Ready=True)])
    assert actions and all(a["ObjectType"] == "Agent" for a in actions)
    assert driver.anomalies["place-unknown"] == len(actions)


# --- ordering -----------------------------------------------------------------------------------


def test_agent_events_reordered_within_the_window_give_the_same_actions() -> None:
    d = Day()
    in_order = [
        d.at(0).login("a1", "p1", media={"email": True, "chat": False}),
        d.at(10.0).not_ready("a1", "email", {"R": "a"}),
        d.at(10.5).submitted("i1", "chat"),
        d.at(10.6).invite("i1", "a1"),
        d.at(11.0).ready("a1", "chat"),
        d.at(11.5).dnd_on("a1"),
        d.at(12.0).ready("a1", "email"),
        d.at(13.0).added("i1", "a1"),
        d.at(20.0).dnd_off("a1"),
    ]
    shuffled = [in_order[i] for i in (0, 1, 2, 3, 6, 4, 5, 7, 8)]  # email ready (12.0) arrives before 11.0
    shuffled2 = [in_order[i] for i in (0, 5, 4, 1, 2, 3, 6, 7, 8)]  # DND (11.5) before 10.0, 10.5, 11.0
    driver = CoreDriver()
    expected = driver.push_all(in_order)
    for variant in (shuffled, shuffled2):
        other = CoreDriver()
        assert other.push_all(variant) == expected
        assert other.counters["late"] == 0
    assert driver.counters["late"] == 0


def test_at_equal_time_agent_events_come_before_interaction_actions() -> None:
    """Ready and an offer at the same EventTime, the offer read first: the offer still sees a ready agent."""
    d = Day()
    in_order = [
        d.at(0).login("a1", "p1", media={"email": False}),
        d.at(0).submitted("i1"),
        d.at(5).ready("a1", "email"),
        d.at(5).invite("i1", "a1"),
    ]
    swapped = [in_order[0], in_order[1], in_order[3], in_order[2]]
    assert CoreDriver().push_all(swapped) == CoreDriver().push_all(in_order)


def test_late_event_after_a_later_one_was_released_is_applied_and_counted() -> None:
    d = Day()
    driver = CoreDriver()
    events = [
        d.at(0).login("a1", "p1"),
        d.at(10).dnd_on("a1"),
        d.at(20).dnd_off("a1"),  # releases the DND at 10 s
        d.at(5).not_ready("a1", "email"),  # 5 s before what was released
    ]
    actions = driver.push_all(events)
    assert driver.counters["late"] == 1
    blocked = one(actions, "Agent", "a1", "Blocked", phase="Start")
    assert blocked["EventTime"] == d.ms(5), "applied with its own time"


def test_input_older_than_the_window_is_counted_late_even_if_nothing_newer_was_released() -> None:
    """Regression (fixed in ece50d1): late = older than event clock − window, not only older than the last
    released item (README 'Order': applied when it arrives and counted as late)."""
    d = Day()
    driver = CoreDriver()
    driver.push(d.at(0).login("a1", "p1", media={"email": True, "chat": True}))
    driver.push(d.at(0).submitted("i1"))
    driver.push(d.at(30).invite("i1", "a1"))  # a bundle at 30 s: the login (0 s) is released
    out = driver.push(d.at(5).not_ready("a1", "chat"))
    assert names(on(out, "Agent", "a1", media="chat"))[:2] == ["Available:End", "Blocked:Start"], "applied"
    assert driver.counters["late"] == 1


def test_input_older_than_the_clock_set_by_a_bundle_less_event_is_applied_on_arrival() -> None:
    """Regression (fixed in ece50d1): an interaction event that reaches no agent still advances the window's
    clock, so a late agent event after it is applied at once (not held until flush) and counted."""
    d = Day()
    driver = CoreDriver()
    driver.push(d.at(0).login("a1", "p1"))
    driver.push(d.at(0).submitted("i1"))
    driver.push(d.at(30).properties("i1", added={"k": "v"}))  # clock 30 s: the login (0 s) is released
    out = driver.push(d.at(5).not_ready("a1", "email"))
    assert names(out, "Agent", "a1")[:2] == ["Available:End", "Blocked:Start"], "applied on arrival"
    assert driver.counters["late"] == 1


def test_custom_reporting_is_ignored_and_counted() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.at(0).custom(InteractionID="i1", AgentID="a1")])
    assert actions == []
    assert driver.counters["ignored"] == 1 and driver.counters["events"] == 1
    assert not driver.anomalies and not driver.interactions and not driver.agents


# --- snapshots ------------------------------------------------------------------------------------


def test_place_agent_state_reconciles_as_one_event() -> None:
    d = Day()
    driver = CoreDriver()
    driver.push_all([d.at(0).login("a1", "p1", media={"email": True, "chat": (False, {"R": "Lunch"})})])
    t = 60
    snap = d.at(t).snapshot(
        "a1",
        "p1",
        media={"email": (False, {"R": "Break"}), "sms": True, "chat": (False, {"R": "Lunch"})},
        dnd=True,
    )
    out = driver.push(snap) + driver.flush()
    assert all(a["EventTime"] == d.ms(t) and a["SourceEvent"] == "EventPlaceAgentState" for a in out)
    agent = on(out, "Agent", "a1")
    assert names(on(agent, "Agent", "a1", media="chat")) == [], "unchanged chat: nothing"
    assert names(on(agent, "Agent", "a1", media="email")) == [
        "Available:End",
        "Blocked:Start",
        "Routable:End",
        "NotRoutable:Start",
    ]
    assert one(agent, "Agent", "a1", "Blocked", media="email")["Reason"] == {"R": "Break"}
    assert names(on(agent, "Agent", "a1", media="sms")) == [
        "Active:Start",
        "Available:Start",
        "NotRoutable:Start",
    ], "DND: sms NotRoutable at once"
    assert one(agent, "Agent", "a1", "DoNotDisturb", phase="Start")
    assert not driver.anomalies
    # a second snapshot without DoNotDisturb (= false) and without sms closes both
    out2 = driver.push(d.at(120).snapshot("a1", "p1", media={"email": False, "chat": False})) + driver.flush()
    assert one(out2, "Agent", "a1", "DoNotDisturb", phase="End")["DurationMs"] == 60_000
    assert names(on(out2, "Agent", "a1", media="sms")) == ["Available:End", "NotRoutable:End", "Active:End"]
    assert not on(out2, "Agent", "a1", "Routable")


def test_snapshot_of_an_agent_we_never_saw_opens_its_state_without_anomaly() -> None:
    d = Day()
    driver = CoreDriver()
    actions = driver.push_all([d.at(0).snapshot("a1", "p1", media={"email": True})])
    assert names(actions, "Agent", "a1") == ["Active:Start", "Available:Start", "Routable:Start"]
    assert names(actions, "Place", "p1") == names(actions, "Agent", "a1")
    assert not driver.anomalies


# --- trailing events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trailing",
    ["removed", "revoked", "rejected", "properties", "held", "stopped-again"],
)
def test_trailing_events_after_processing_stopped_are_absorbed(trailing: str) -> None:
    d = Day()
    driver = CoreDriver()
    base = [
        d.at(0).login("a1", "p1"),
        d.at(0).login("a2", "p2"),
        *routed(d),
        d.at(20).invite("i1", "a2", visibility="Conference"),
        d.at(30).stopped("i1"),
    ]
    d.at(31)
    late_event = {
        "removed": lambda: d.removed("i1", "a1"),
        "revoked": lambda: d.revoked("i1", "a2"),
        "rejected": lambda: d.rejected("i1", "a2"),
        "properties": lambda: d.properties("i1", added={"x": "y"}),
        "held": lambda: d.held("i1"),
        "stopped-again": lambda: d.stopped("i1"),
    }[trailing]()
    expected = CoreDriver().push_all(base)
    actions = driver.push_all([*base, late_event])
    assert actions == expected
    assert not driver.anomalies
    assert one(actions, "Agent", "a2", "InteractionAbandonedDuringOffering")
