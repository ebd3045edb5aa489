"""Capacity and Routable/NotRoutable (actions.md §2, "Routable / NotRoutable" and "Capacity").

Routable when ``ready(m) and not DND and capacity_left(m) > 0``, else NotRoutable; exactly one open
while m is Active; evaluated once per input event.
"""

from __future__ import annotations

import pytest

from pipeline.core.capacity import Block, CapacityConfig, CapacityRule
from pipeline.core.driver import CoreDriver
from tests.core.builders import Day, on, routing

CHAT_HEAVY = CapacityRule(
    "ChatHeavy", max={"chat": 3, "email": 1}, max_total=3, block=(Block("email", when={"chat": 1}),)
)


def routable_now(actions: list[dict], agent: str, media: str) -> str | None:
    """Which of Routable / NotRoutable is open at the end of ``actions`` for (agent, media)."""
    open_: set[str] = set()
    for a in on(actions, "Agent", agent, media=media):
        if a["Action"] in ("Routable", "NotRoutable"):
            (open_.add if a["Phase"] == "Start" else open_.discard)(a["Action"])
    assert len(open_) <= 1, open_
    return next(iter(open_), None)


class Desk:
    """One agent on one driver; ``step`` pushes events and returns the actions they released."""

    def __init__(self, capacity: CapacityConfig | None = None, media: dict | None = None) -> None:
        self.d = Day()
        self.driver = CoreDriver(capacity, window_ms=0)
        self.all: list[dict] = []
        self.step(self.d.at(0).login("a1", "p1", media=media or {"email": True, "chat": True}))

    def step(self, *events: dict) -> list[dict]:
        out: list[dict] = []
        for e in events:
            out.extend(self.driver.push(e))
        out.extend(self.driver.flush())
        self.all.extend(out)
        return out

    def state(self, media: str) -> str | None:
        return routable_now(self.all, "a1", media)

    def offer(self, iid: str, media: str, t: float) -> list[dict]:
        return self.step(self.d.at(t).submitted(iid, media), self.d.at(t).invite(iid, "a1"))


# --- the rules ----------------------------------------------------------------------------------


def test_default_rule_is_one_interaction_of_each_media() -> None:
    desk = Desk()
    assert desk.state("email") == desk.state("chat") == "Routable"
    desk.offer("e1", "email", 10)
    assert (desk.state("email"), desk.state("chat")) == ("NotRoutable", "Routable")
    desk.offer("c1", "chat", 20)
    assert (desk.state("email"), desk.state("chat")) == ("NotRoutable", "NotRoutable")
    desk.step(desk.d.at(30).rejected("e1", "a1"))
    assert (desk.state("email"), desk.state("chat")) == ("Routable", "NotRoutable")


def test_default_rule_applies_to_any_media_name() -> None:
    desk = Desk(media={"sms": True, "workitem": True})
    assert desk.state("sms") == desk.state("workitem") == "Routable"


def test_chat_heavy_rule() -> None:
    cfg = CapacityConfig(rules={"ChatHeavy": CHAT_HEAVY}, agents={"a1": "ChatHeavy"})
    desk = Desk(cfg, media={"email": True, "chat": True, "sms": True})
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "Routable")
    assert desk.state("sms") == "NotRoutable", "a media not listed in max gets 0"
    desk.offer("c1", "chat", 10)
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "NotRoutable"), (
        "email blocked by chat ≥ 1"
    )
    desk.step(desk.d.at(11).added("c1", "a1"))
    desk.offer("c2", "chat", 12)
    assert desk.state("chat") == "Routable"
    desk.offer("c3", "chat", 13)
    assert desk.state("chat") == "NotRoutable", "chat max 3 (and max_total 3) reached"
    desk.step(desk.d.at(20).removed("c1", "a1"))
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "NotRoutable")
    desk.step(desk.d.at(21).rejected("c2", "a1"), desk.d.at(21).revoked("c3", "a1"))
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "Routable"), "block lifted at chat 0"
    desk.offer("e1", "email", 30)
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "NotRoutable"), (
        "email max 1; total 1 of 3"
    )


def test_max_total_limits_across_media() -> None:
    rule = CapacityRule("Total2", max={"chat": 2, "email": 2}, max_total=2)
    desk = Desk(CapacityConfig(rules={"Total2": rule}, tenants={"t1": "Total2"}))
    desk.offer("c1", "chat", 10)
    assert (desk.state("chat"), desk.state("email")) == ("Routable", "Routable")
    desk.offer("e1", "email", 11)
    assert (desk.state("chat"), desk.state("email")) == ("NotRoutable", "NotRoutable")


ZERO = CapacityRule("Zero", max={})
OPEN = CapacityRule("Open", max={"email": 5})


@pytest.mark.parametrize(
    ("agents", "places", "tenants", "expected"),
    [
        ({"a1": "Zero"}, {"p1": "Open"}, {"t1": "Open"}, "NotRoutable"),  # agent wins
        ({"a1": "Open"}, {"p1": "Zero"}, {"t1": "Zero"}, "Routable"),
        ({}, {"p1": "Zero"}, {"t1": "Open"}, "NotRoutable"),  # then place
        ({}, {"p1": "Open"}, {"t1": "Zero"}, "Routable"),
        ({"a2": "Open"}, {"p2": "Open"}, {"t1": "Zero"}, "NotRoutable"),  # then tenant
        ({}, {}, {"t2": "Zero"}, "Routable"),  # else the built-in default
    ],
)
def test_assignment_precedence_agent_place_tenant(
    agents: dict[str, str], places: dict[str, str], tenants: dict[str, str], expected: str
) -> None:
    cfg = CapacityConfig(rules={"Zero": ZERO, "Open": OPEN}, agents=agents, places=places, tenants=tenants)
    desk = Desk(cfg, media={"email": True})
    assert desk.state("email") == expected


# --- Routable ⇄ NotRoutable ---------------------------------------------------------------------


def test_offer_and_its_outcomes_switch_routable() -> None:
    desk = Desk(media={"email": True})
    assert routing(desk.offer("e1", "email", 10), "a1") == ["Routable:End", "NotRoutable:Start"]
    assert routing(desk.step(desk.d.at(15).revoked("e1", "a1")), "a1") == [
        "NotRoutable:End",
        "Routable:Start",
    ]
    desk.step(desk.d.at(20).invite("e1", "a1"))
    accept = desk.step(desk.d.at(25).added("e1", "a1"))
    assert routing(accept, "a1") == [], "accepting moves one unit from offered to Handling: no change"
    assert routing(desk.step(desk.d.at(90).removed("e1", "a1")), "a1") == [
        "NotRoutable:End",
        "Routable:Start",
    ]
    ends = on(desk.all, "Agent", "a1", "NotRoutable", phase="End")
    assert [e["DurationMs"] for e in ends] == [5_000, 70_000]


def test_readiness_and_dnd_switch_routable() -> None:
    desk = Desk(media={"email": True})
    assert routing(desk.step(desk.d.at(10).not_ready("a1", "email", {"R": "x"})), "a1") == [
        "Routable:End",
        "NotRoutable:Start",
    ]
    assert routing(desk.step(desk.d.at(11).media_reason("a1", "email", {"R": "y"})), "a1") == []
    assert routing(desk.step(desk.d.at(20).ready("a1", "email")), "a1") == [
        "NotRoutable:End",
        "Routable:Start",
    ]
    assert routing(desk.step(desk.d.at(30).dnd_on("a1")), "a1") == ["Routable:End", "NotRoutable:Start"]
    assert routing(desk.step(desk.d.at(35).not_ready("a1", "email")), "a1") == [], "still NotRoutable"
    assert routing(desk.step(desk.d.at(40).dnd_off("a1")), "a1") == []
    assert routing(desk.step(desk.d.at(50).ready("a1", "email")), "a1") == [
        "NotRoutable:End",
        "Routable:Start",
    ]


def test_media_removal_and_logout_end_routing_without_a_successor() -> None:
    desk = Desk(media={"email": True, "chat": False})
    assert routing(desk.step(desk.d.at(10).media_removed("a1", "chat")), "a1") == ["NotRoutable:End"]
    assert routing(desk.step(desk.d.at(20).logout("a1")), "a1") == ["Routable:End"]
    assert routable_now(desk.all, "a1", "email") is None


def test_handling_after_logout_and_relogin_still_counts() -> None:
    desk = Desk(media={"email": True})
    desk.offer("e1", "email", 10)
    desk.step(desk.d.at(12).added("e1", "a1"))
    desk.step(desk.d.at(20).logout("a1"))
    desk.step(desk.d.at(30).login("a1", "p1", media={"email": True}))
    assert desk.state("email") == "NotRoutable", "the email in hand still uses the one unit"
    assert routing(desk.step(desk.d.at(40).removed("e1", "a1")), "a1") == [
        "NotRoutable:End",
        "Routable:Start",
    ]


def test_monitoring_takes_no_capacity_but_coaching_does() -> None:
    d = Day()
    driver = CoreDriver(window_ms=0)
    actions = driver.push_all(
        [
            d.at(0).login("a1", "p1"),
            d.at(0).login("sup", "p9"),
            d.at(0).submitted("i1"),
            d.at(0).invite("i1", "a1"),
            d.at(1).added("i1", "a1"),
            d.at(10).added("i1", "sup", visibility="Monitor"),
            d.at(20).removed("i1", "sup"),
            d.at(30).added("i1", "sup", visibility="Coach"),
        ]
    )
    assert [
        (a["Action"], a["Phase"], a["EventTime"])
        for a in on(actions, "Agent", "sup")
        if a["Action"] in ("Routable", "NotRoutable")
    ] == [
        ("Routable", "Start", d.ms(0)),
        ("Routable", "End", d.ms(30)),
        ("NotRoutable", "Start", d.ms(30)),
    ]


# --- one evaluation per input event ---------------------------------------------------------------


def test_login_with_several_media_evaluates_once() -> None:
    d = Day()
    actions = CoreDriver().push_all([d.at(0).login("a1", "p1", media={"email": True, "chat": False})])
    assert routing(actions, "a1", "email") == ["Routable:Start"]
    assert routing(actions, "a1", "chat") == ["NotRoutable:Start"]


def test_event_touching_several_agents_evaluates_each_once() -> None:
    """EventProcessingStopped ends a conference of two and an open offer to a third."""
    d = Day()
    driver = CoreDriver()
    setup = [
        d.at(0).login("a1", "p1"),
        d.at(0).login("a2", "p2"),
        d.at(0).login("a3", "p3"),
        d.at(0).submitted("i1"),
        d.at(0).invite("i1", "a1"),
        d.at(1).added("i1", "a1"),
        d.at(2).invite("i1", "a2", visibility="Conference"),
        d.at(3).added("i1", "a2"),
        d.at(4).invite("i1", "a3", visibility="Conference"),
    ]
    for e in setup:
        driver.push(e)
    driver.flush()
    out = driver.push(d.at(60).stopped("i1")) + driver.flush()
    for agent in ("a1", "a2", "a3"):
        assert routing(out, agent) == ["NotRoutable:End", "Routable:Start"], agent
        assert [a["EventTime"] for a in on(out, "Agent", agent, "Routable")] == [d.ms(60)]


def test_snapshot_is_one_evaluation() -> None:
    """Not ready → ready and DND on → off in one snapshot: one change, not two."""
    d = Day()
    driver = CoreDriver()
    driver.push(d.at(0).login("a1", "p1", media={"email": False}))
    driver.push(d.at(1).dnd_on("a1"))
    driver.flush()
    out = driver.push(d.at(10).snapshot("a1", "p1", media={"email": True}, dnd=False)) + driver.flush()
    assert routing(out, "a1") == ["NotRoutable:End", "Routable:Start"]


def test_bundle_of_transfer_accept_on_inviter_changes_nothing() -> None:
    """TransferMade reaches the inviter in the same event as the invitee's accept: no routing change there."""
    d = Day()
    driver = CoreDriver()
    for e in [
        d.at(0).login("a1", "p1"),
        d.at(0).login("a2", "p2"),
        d.at(0).submitted("i1"),
        d.at(0).invite("i1", "a1"),
        d.at(1).added("i1", "a1"),
        d.at(5).invite("i1", "a2"),
    ]:
        driver.push(e)
    driver.flush()
    out = driver.push(d.at(9).added("i1", "a2")) + driver.flush()
    assert on(out, "Agent", "a1", "TransferMade")
    assert routing(out, "a1") == [] and routing(out, "a2") == []


def test_no_zero_length_routable_when_offer_arrives_in_the_same_millisecond_as_ready() -> None:
    d = Day()
    actions = CoreDriver().push_all(
        [
            d.at(0).login("a1", "p1", media={"email": False}),
            d.at(0).submitted("i1"),
            d.at(10).ready("a1", "email"),
            d.at(10).invite("i1", "a1"),
        ]
    )
    zero = [a for a in actions if a["Action"] in ("Routable", "NotRoutable") and a.get("DurationMs") == 0]
    assert zero == []
