"""Status subjects through a realistic agent day: CurrentState(-Reasons), CurrentContinuousTime."""

from __future__ import annotations

import pytest

from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, at, config, durable, stat

LUNCH, BREAK = {"ReasonCode": "Lunch"}, {"ReasonCode": "Break"}

DAY = sorted(
    [
        *durable("Active", 0, 600, media="email"),
        *durable("Active", 0, 600, media="chat"),
        *durable("Available", 0, 400, media="email"),
        *durable("Available", 0, 600, media="chat"),
        *durable("Delivering", 100, 110, media="chat", iid="c1"),
        *durable("HandlingInbound", 110, 300, media="chat", iid="c1"),
        *durable("DoNotDisturb", 200, 600, media=None),
        *durable("Blocked", 400, 500, media="email", reason=LUNCH),
        *durable("Blocked", 500, 600, media="email", reason=BREAK),
    ],
    key=lambda a: a["EventTime"],
)

STATS = [
    stat("CurrentState", subject="AgentStatus", name="State"),
    stat("CurrentStateReasons", subject="AgentStatus", name="Reasons"),
    stat("CurrentState", subject="AgentStatus", media=["email"], name="EmailState"),
    stat("CurrentContinuousTime", ["Available", "Blocked"], subject="AgentStatus", name="ReadyOrNot"),
    stat("CurrentContinuousTime", ["Blocked"], subject="AgentStatus", name="NotReadyFor"),
    stat("TotalTime", ["Blocked"], subject="AgentStatus", name="NotReadyTime"),
    stat("TotalTime", ["HandlingInbound"], subject="PlaceStatus", objects=["Place"], name="PlaceHandling"),
]


@pytest.fixture
def day():
    """A function: the engine fed with the day up to (and including) second ``t``."""
    engine = StatEngine(config(*STATS))
    done = [0]

    def upto(t: float) -> StatEngine:
        for action in DAY[done[0]:]:
            if action["EventTime"] > at(t):
                break
            engine.on_action(action, action["EventTime"])
            engine.on_action({**action, "ObjectType": "Place", "ObjectID": "p1"}, action["EventTime"])
            done[0] += 1
        engine.advance(at(t))
        return engine

    return upto


def q(engine: StatEngine, name: str, t: float, obj=("Agent", "a1")):
    rec = engine.value(name, obj[0], "t1", obj[1], at(t))
    return rec["State"] if rec["Value"] is None else rec["Value"]


def test_current_state_through_the_day(day):
    s = q(day(50), "State", 50)
    assert s == {"Status": "Available", "Media": {"chat": "Available", "email": "Available"},
                 "DoNotDisturb": False, "Reason": None, "Since": at(0)}
    s = q(day(105), "State", 105)
    assert (s["Status"], s["Media"]["chat"], s["Since"]) == ("Delivering", "Delivering", at(100))
    s = q(day(150), "State", 150)
    assert (s["Status"], s["Media"], s["Since"]) == (
        "HandlingInbound", {"chat": "HandlingInbound", "email": "Available"}, at(110))
    assert q(day(150), "EmailState", 150)["Status"] == "Available"  # chat work is not on email
    assert q(day(250), "State", 250)["DoNotDisturb"] is True
    s = q(day(350), "State", 350)
    assert (s["Status"], s["Since"]) == ("Available", at(300))
    s = q(day(450), "Reasons", 450)
    assert (s["Status"], s["Reason"], s["Since"]) == ("Blocked", LUNCH, at(400))
    assert q(day(450), "State", 450)["Reason"] is None
    s = q(day(550), "Reasons", 550)
    assert (s["Status"], s["Reason"], s["Since"]) == ("Blocked", BREAK, at(400))  # reason change: same since
    s = q(day(650), "State", 650)
    assert (s["Status"], s["Media"], s["Since"]) == ("LoggedOut", {}, at(600))


@pytest.mark.parametrize(
    ("t", "ready_or_not", "not_ready_for"),
    [(50, 50, 0), (150, 0, 0), (350, 50, 0), (450, 150, 50), (550, 250, 150), (650, 0, 0)],
)
def test_current_continuous_time(day, t, ready_or_not, not_ready_for):
    engine = day(t)
    assert q(engine, "ReadyOrNot", t) == pytest.approx(ready_or_not)
    assert q(engine, "NotReadyFor", t) == pytest.approx(not_ready_for)


def test_status_time_and_place_status(day):
    engine = day(550)
    assert q(engine, "NotReadyTime", 550) == 150  # ongoing Blocked status counts
    engine = day(700)
    finals = {(r["Statistic"], r["ObjectType"]): r for r in engine.finals(at(700)) if r["Reason"] == "Final"}
    assert finals[("NotReadyTime", "Agent")]["Value"] == 200
    assert finals[("PlaceHandling", "Place")]["Value"] == 190
    assert finals[("State", "Agent")]["State"]["Status"] == "LoggedOut"


def test_current_state_of_an_agent_never_logged_in():
    engine = StatEngine(config(stat("CurrentState", subject="AgentStatus", name="State")))
    engine.on_action(act("DeliveringStarted", 5, iid="i1"), at(5))
    assert engine.finals(at(10))[-1]["State"]["Status"] == "LoggedOut"
