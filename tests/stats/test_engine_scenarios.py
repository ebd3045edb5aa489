"""The engine on the repository's golden scenarios, and its state surviving a JSON round trip mid-stream."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline.records.catalog import ACTION_KINDS
from pipeline.records.times import parse_time
from pipeline.stats.config import load_config
from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Notification, Statistic
from tests.golden import OWN, assert_finals_match, last_event_time, load_events, places_of, with_statistics
from tests.stats.engine_builders import at, growing, selection, since_login, sliding, stat


def scenario_actions(folder: Path, name: str) -> list[dict]:
    """A scenario's *expected* actions as engine input (int times, the tenant, StartTime, and the
    Place copies the core emits for every Agent action): the engine is checked on hand-written
    actions, independently of the core."""
    events = load_events(folder, name)
    place_of = places_of(events)
    (tenant,) = {e["TenantID"] for e in events}
    out = []
    for line in (folder / f"{name}.expected-actions.jsonl").read_text().splitlines():
        action = json.loads(line)
        action["EventTime"] = parse_time(action["EventTime"])
        action["TenantID"] = tenant
        if action.get("DurationMs") is not None:
            action["StartTime"] = action["EventTime"] - action["DurationMs"]
        out.append(action)
        if action["ObjectType"] == "Agent":
            out.append({**action, "ObjectType": "Place", "ObjectID": place_of[action["ObjectID"]]})
    return out


def test_every_scenario_has_statistics() -> None:
    assert with_statistics(OWN) == ["chat-offers-and-readiness", "conference-then-transfer", "routed-emails"]


@pytest.mark.parametrize("name", with_statistics(OWN))
def test_scenario_final_values(name: str) -> None:
    engine = StatEngine(load_config(OWN / f"{name}.stats.yaml"))
    for action in sorted(scenario_actions(OWN, name), key=lambda a: a["EventTime"]):
        engine.on_action(action, action["EventTime"])
    assert_finals_match(engine.finals(last_event_time(OWN, name)), OWN, name)


# ------------------------------------------------------------------------------ state round trip

EXTRA: list[Statistic] = [
    stat("TotalNumber", ["StoppedInbound"], profile=selection(2), name="LastTwo"),
    stat("TotalTime", ["Active"], profile=since_login(), name="Session"),
    stat("AverageOfCurrentNumber", ["Handling"], profile=sliding(600, 60), name="Load10"),
    stat("MaxNumber", ["Handling"], profile=growing(tuple(range(0, 1440, 30)), name="Half"), name="PeakHalf"),
    stat("CurrentTime", ["Handling"], name="InHand", notification=Notification("Time", frequency_s=60)),
    stat("CurrentContinuousTime", ["Available", "Blocked"], subject="AgentStatus", name="Cont",
         objects=["Agent", "GroupAgents"]),
]


def synthetic_day(seed: int) -> list[dict]:
    """A few agents with logins, readiness changes and interactions, crossing midnight UTC."""
    rng = random.Random(seed)
    actions: list[dict] = []

    def add(action, t, phase=None, agent="a1", media="email", iid=None, dur=None, reason=None):
        rec = {"Action": action, "Kind": ACTION_KINDS[action], "Phase": phase, "ObjectType": "Agent",
               "ObjectID": agent, "TenantID": "t1", "EventTime": t, "InteractionID": iid,
               "MediaTypeID": media, "DurationMs": dur, "StartTime": None if dur is None else t - dur,
               "Reason": reason,
               "UserData": {"Language": rng.choice(["en", "es"])} if iid else None}
        actions.append(rec)
        actions.append({**rec, "ObjectType": "Place", "ObjectID": "p" + agent[1:]})

    base = at(14 * 3600)  # 23:00 UTC
    for n, agent in enumerate(("a1", "a2", "a3")):
        t = base + n * 7_000
        add("Active", t, "Start", agent)
        add("Available", t, "Start", agent)
        for k in range(rng.randint(3, 8)):
            t += rng.randint(5_000, 600_000)
            iid = f"{agent}-{k}"
            offer = rng.randint(1_000, 30_000)
            add("Delivering", t, "Start", agent, iid=iid)
            add("DeliveringStarted", t, None, agent, iid=iid)
            add("Delivering", t + offer, "End", agent, iid=iid, dur=offer)
            add("Accepted", t + offer, None, agent, iid=iid, dur=offer)
            t += offer
            handle = rng.randint(10_000, 900_000)
            add("Handling", t, "Start", agent, iid=iid)
            add("HandlingInbound", t, "Start", agent, iid=iid)
            add("Handling", t + handle, "End", agent, iid=iid, dur=handle)
            add("HandlingInbound", t + handle, "End", agent, iid=iid, dur=handle)
            add("StoppedInbound", t + handle, None, agent, iid=iid, dur=handle)
            if rng.random() < 0.3:
                add("Available", t + handle, "End", agent, dur=None)
                add("Blocked", t + handle, "Start", agent, reason={"ReasonCode": "Break"})
                add("Blocked", t + handle + 60_000, "End", agent, dur=60_000, reason={"ReasonCode": "Break"})
                add("Available", t + handle + 60_000, "Start", agent)
            t += handle
        add("Available", t + 1_000, "End", agent)
        add("Active", t + 1_000, "End", agent)
    actions.sort(key=lambda a: a["EventTime"])
    return actions


def starter_plus_extra() -> StatEngine:
    base = load_config(None)
    config = type(base)(
        timezone=base.timezone, time_profiles=base.time_profiles, time_ranges=base.time_ranges,
        filters=base.filters, stat_types=base.stat_types, statistics=tuple(base.statistics) + tuple(EXTRA),
        groups=base.groups, capacity=base.capacity,
    )
    return StatEngine(config)


def drive(engine: StatEngine, actions: list[dict]) -> list[dict]:
    out: list[dict] = []
    for action in actions:
        out += engine.on_action(action, action["EventTime"])
        out += engine.advance(action["EventTime"] + 1_500)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_state_round_trips_through_json_mid_stream(seed):
    actions = synthetic_day(seed)
    half = len(actions) // 2
    straight = starter_plus_extra()
    expected = drive(straight, actions)
    expected_finals = straight.finals(actions[-1]["EventTime"] + 3_600_000)

    first = starter_plus_extra()
    got = drive(first, actions[:half])
    blob = json.dumps(first.export_state(), sort_keys=True)
    second = starter_plus_extra()
    second.import_state(json.loads(blob))
    got += drive(second, actions[half:])
    assert got == expected
    assert second.finals(actions[-1]["EventTime"] + 3_600_000) == expected_finals
    assert any(r["Reason"] == "Reset" for r in expected)  # the day crossed midnight


def test_state_keys_are_statistic_object_strings():
    engine = starter_plus_extra()
    drive(engine, synthetic_day(3)[:40])
    keys = engine.keys()
    assert "Handled/Agent/t1/a1" in keys and "Handled/Place/t1/p1" in keys
    for key in keys:
        json.dumps(engine.export_state()["accumulators"][key])
