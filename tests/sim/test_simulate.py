"""The simulator's promises: reproducible, in time order with login first at any size, every seed
action within ten minutes, and a live mode paced by (and stamped with) the clock."""

from __future__ import annotations

import json

from pipeline.records.catalog import AGENT_ACTIONS
from pipeline.records.times import parse_time
from pipeline.replay import replay
from pipeline.simulate import Simulator, live_config_text, live_events
from pipeline.stats.config import load_config

START = "2026-03-02T08:00:00Z"


def _replay_actions(events: list[dict]):
    actions: list[dict] = []
    source = ((n, json.dumps(e).encode()) for n, e in enumerate(events, start=1))
    summary = replay(source, load_config(None), on_action=actions.append)
    return summary, actions


def test_same_seed_same_events_other_seed_other_events():
    def run(seed: int) -> list[dict]:
        return list(Simulator(agents=12, hours=0.25, per_hour=300, seed=seed, start=START).events())

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_in_time_order_with_login_first_at_2000_agents():
    """2,000 agents at 12,000 interactions an hour: no event out of order, no not-logged-in anomaly."""
    events = list(Simulator(agents=2000, hours=1 / 12, per_hour=12_000, seed=11, start=START).events())
    times = [parse_time(e["EventTime"]) for e in events]
    assert times == sorted(times)
    summary, _ = _replay_actions(events)
    assert summary.dead_letters == 0
    assert summary.counters.get("late", 0) == 0
    assert dict(summary.anomalies) == {}


def test_a_short_run_lasts_as_long_as_asked():
    events = list(Simulator(agents=20, hours=0.25, per_hour=600, seed=2, start=START).events())
    arrivals = [parse_time(e["EventTime"]) for e in events if e["Event"] == "EventInteractionSubmitted"]
    start = parse_time(START)
    assert max(arrivals) - start > 13 * 60_000  # arrivals go on to the end of the quarter hour
    assert events[-1]["Event"] == "EventAgentLogout"


def test_ten_minutes_contain_every_seed_action():
    seed_actions = set(AGENT_ACTIONS)  # the seed page's media-channel actions, as the catalog names them
    assert len(seed_actions) == 38
    for seed in (1, 7):
        events = list(Simulator(hours=10 / 60, seed=seed, start=START).events())
        limit = parse_time(START) + 10 * 60_000
        _, actions = _replay_actions(events)
        within = {a["Action"] for a in actions if parse_time(a["EventTime"]) <= limit}
        assert seed_actions - within == set(), f"seed {seed}"


def test_live_events_are_paced_and_stamped_by_the_clock():
    now = [1_800_000_000.0]  # seconds
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    sim = Simulator(agents=5, hours=None, per_hour=600, seed=1, start=int(now[0] * 1000))
    stream = live_events(sim, speed=10.0, clock=lambda: now[0], sleep=sleep)
    events = [next(stream) for _ in range(150)]
    stamps = [parse_time(e["EventTime"]) for e in events]
    assert stamps == sorted(stamps)
    sim_span = sim.now - sim.start
    assert abs((stamps[-1] - stamps[0]) - sim_span / 10) < 1_000  # ten times faster than life
    assert abs(now[0] * 1000 - stamps[-1]) < 2  # each event is sent when its stamp says
    assert sum(slept) > 0


def test_write_config_gives_groups_and_per_media_counts():
    sim = Simulator(agents=9, hours=1, seed=1, start=START)
    config = load_config_text(live_config_text(sim))
    assert set(config.groups.agents) == {"Sales", "Support", "Billing"}
    members = sorted(a for group in config.groups.agents.values() for a in group)
    assert members == [a.id for a in sim.agents]
    names = {s.name for s in config.statistics}
    assert {"Agents_Available_email", "Agents_Routable_chat", "Agents_Not_Ready_sms", "Handled"} <= names


def load_config_text(text: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.yaml"
        path.write_text(text)
        return load_config(path)


def test_close_stops_every_interaction_and_logs_everyone_out():
    """--live ends with close(): replayed, no agent is left logged in and nothing is in hand."""
    sim = Simulator(agents=10, hours=None, per_hour=900, seed=4, start=START)
    events = []
    for event in sim.events():
        events.append(event)
        if sim.now - sim.start > 6 * 60_000:
            break
    events += list(sim.close())
    assert sim._jobs == []  # nothing left to do
    summary, actions = _replay_actions(events)
    assert dict(summary.anomalies) == {}
    open_durable: dict[tuple, int] = {}
    for a in actions:
        if a["Kind"] == "Durable" and a["ObjectType"] == "Agent":
            key = (a["ObjectID"], a["Action"], a.get("MediaTypeID"), a.get("InteractionID"))
            open_durable[key] = open_durable.get(key, 0) + (1 if a["Phase"] == "Start" else -1)
    assert {k: v for k, v in open_durable.items() if v} == {}


def test_live_command_sends_valid_events_then_closes(monkeypatch):
    """``simulate --live`` end to end without a broker: a stand-in producer receives the events."""
    import pipeline.kafka.bootstrap as bootstrap
    import pipeline.kafka.feed as feed
    from pipeline.cli import main
    from pipeline.records.codec import decode

    sent: list[tuple[bytes, dict]] = []

    class Producer:
        def __init__(self, bootstrap, topic, dead_letter_topic, source=""):
            assert (topic, dead_letter_topic) == ("x.events", "x.dead-letters")
            self.sent = 0

        def send(self, key, value, **_):
            sent.append((key, decode(value, expected="ReportingEvent")[1]))
            self.sent += 1
            return True

        def flush(self, timeout=60.0):
            return 0

    monkeypatch.setattr(feed, "Feeder", Producer)
    monkeypatch.setattr(bootstrap, "check_reachable", lambda *_, **__: None)  # no broker to check
    args = ["simulate", "--live", "--bootstrap", "127.0.0.1:1", "--prefix", "x", "--agents", "4"]
    assert main([*args, "--hours", "0.05", "--speed", "600"]) == 0
    names = [e["Event"] for _, e in sent]
    assert names[:1] == ["EventAgentLogin"] and names.count("EventAgentLogin") == 5  # 4 agents + 1 supervisor
    assert names.count("EventAgentLogout") == 5  # the day ends with everyone logged out
    times = [e["EventTime"] for _, e in sent]
    assert times == sorted(times)
    assert all(
        key in (e.get("InteractionID", "").encode(), e["AgentID"].encode())
        for key, e in sent
        if "AgentID" in e and "InteractionID" not in e
    )
