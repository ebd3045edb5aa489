"""Repeated events through the Kafka pipeline: the same actions as replay, and as without the repeats.

events.md: "Duplicate (EventID seen before for the same key) → dropped, counted." Every login is
repeated in its own millisecond (it is then the agent's last input of that instant, where stage 2
evaluates Routable) and some events of every kind are sent again a little later. The worker's
stage 2 and replay's driver release batches through the same ``agents.evaluation_points``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from tests.golden import scenario
from tests.stream.harness import Pipeline, read_topics

pytestmark = pytest.mark.integration

RESEND_EVERY = 7  # every 7th event is sent again ...
RESEND_AFTER = 10  # ... after the next 10 events


def canonical(record: dict) -> str:
    """Avro gives absent optional fields as null; JSON output omits them."""
    return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)


def write_days(tmp_path: Path) -> tuple[Path, Path, int]:
    """A simulated half hour with an EventID on every event; without and with repeats."""
    events = list(Simulator(agents=5, hours=0.75, per_hour=80, seed=5).events())
    for n, event in enumerate(events):
        event["EventID"] = f"e{n}"
    later: dict[int, list[dict]] = {}
    with_repeats: list[dict] = []
    for n, event in enumerate(events):
        with_repeats.append(event)
        if event["Event"] == "EventAgentLogin":
            with_repeats.append(dict(event))
        if n % RESEND_EVERY == 0:
            later.setdefault(min(n + RESEND_AFTER, len(events) - 1), []).append(dict(event))
        with_repeats.extend(later.pop(n, ()))
    plain, repeated = tmp_path / "plain.jsonl", tmp_path / "repeated.jsonl"
    plain.write_text("".join(json.dumps(e) + "\n" for e in events))
    repeated.write_text("".join(json.dumps(e) + "\n" for e in with_repeats))
    return plain, repeated, len(with_repeats) - len(events)


def run_replay(events: Path, config: Path) -> tuple[list[dict], dict]:
    actions: list[dict] = []
    summary = replay(iter_source(events), load_config(config), on_action=actions.append)
    return actions, summary.counters


def test_repeated_events_give_the_actions_of_the_stream_without_them(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = scenario("routed-emails.stats.yaml")
    plain, repeated, repeats = write_days(tmp_path)
    want, _ = run_replay(plain, config)
    offline, counters = run_replay(repeated, config)
    assert offline == want
    assert counters["duplicates"] == repeats > 5
    assert any(a["Action"] == "Routable" and a["SourceEvent"] == "EventAgentLogin" for a in want)

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    try:
        pipe.feed(repeated)
        worker = pipe.start_worker()
        got = read_topics(
            kafka_bootstrap,
            [pipe.topic("actions")],
            want=len(want),
            idle_s=5,
            timeout_s=150,
            alive=lambda: worker.poll() is None,
        )
    finally:
        pipe.stop_all()
    assert Counter(canonical(r) for _, r in got) == Counter(map(canonical, want)), pipe.logs()
