"""The latency row's matching of outputs to raw events, on replay's records (no broker)."""

from __future__ import annotations

import math

from pipeline.replay import replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from tests.bench.matching import action_latencies, counted_actions, statistic_latencies


def _replayed() -> tuple[list[dict], list[dict]]:
    events = list(Simulator(agents=12, hours=0.5, per_hour=200, seed=5).events())
    actions: list[dict] = []
    stats: list[dict] = []
    replay(((0, e) for e in events), load_config(None), on_action=actions.append, on_stat=stats.append)
    return actions, stats


def test_every_counted_action_finds_the_statistic_record_that_includes_it() -> None:
    actions, stats = _replayed()
    # On the event clock a notification's EmittedAt is the time of the action that caused it: with
    # every record "received" 7 ms after that, each counted action must measure exactly 7 ms.
    latencies = statistic_latencies(actions, [(r, r["EmittedAt"] + 7) for r in stats])
    assert len(latencies) == len(counted_actions(actions)) > 100
    assert set(latencies) == {7.0}


def test_statistic_records_never_seen_are_infinite() -> None:
    actions, stats = _replayed()
    lost = next(a["ObjectID"] for a in actions if a["Action"] == "InteractionEntered")
    kept = [(r, r["EmittedAt"]) for r in stats if r["ObjectID"] != lost]
    latencies = statistic_latencies(actions, kept)
    counted_for_lost = sum(1 for c in counted_actions(actions) if c[2] == lost)
    assert sum(1 for v in latencies if math.isinf(v)) == counted_for_lost > 0


def test_counting_restarts_for_each_object() -> None:
    base = {"TenantID": "t", "ObjectType": "Queue", "Action": "InteractionEntered"}
    actions = [
        {**base, "ObjectID": "q1", "EventTime": 30},
        {**base, "ObjectID": "q2", "EventTime": 20},
        {**base, "ObjectID": "q1", "EventTime": 10},
        {**base, "ObjectType": "Agent", "ObjectID": "q1", "EventTime": 40},  # not a queue: not counted
    ]
    assert counted_actions(actions) == [
        ("Queue_Entered", "t", "q1", 1, 10),
        ("Queue_Entered", "t", "q2", 1, 20),
        ("Queue_Entered", "t", "q1", 2, 30),
    ]


def test_action_latency_is_the_first_action_of_each_event() -> None:
    seen = [(100, 130), (100, 120), (200, 260)]
    assert action_latencies([100, 200, 300], seen) == [20.0, 60.0, math.inf]
