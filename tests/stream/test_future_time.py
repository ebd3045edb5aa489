"""The worker and events stamped far ahead (a bridge whose clock is wrong by a year or a century):
they go to the dead-letter topic (``future-time``) and the events after them are processed as if
they were not there — no hang, no statistics pushed into the future."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.records.times import parse_time, to_iso
from pipeline.simulate import Simulator
from tests.golden import scenario
from tests.stream.harness import (
    Pipeline,
    canonical,
    day_file,
    read_topics,
    run_replay,
    statistics_differences,
)

pytestmark = pytest.mark.integration

YEAR_MS = 365 * 86_400_000


def shifted(line: str, ahead_ms: int, **changes: str) -> str:
    event = {**json.loads(line), **changes}
    event["EventTime"] = to_iso(parse_time(event["EventTime"]) + ahead_ms)
    return json.dumps(event)


def with_future_events(clean: Path, path: Path) -> Path:
    """The clean file with an interaction event one year ahead a third of the way in and an agent
    event a hundred years ahead two thirds of the way in."""
    lines = [line for line in clean.read_text().splitlines() if line.strip()]
    submitted = next(line for line in lines if "EventInteractionSubmitted" in line)
    login = next(line for line in lines if '"EventAgentLogin"' in line)
    third = len(lines) // 3
    path.write_text(
        "\n".join(
            lines[:third]
            + [shifted(submitted, YEAR_MS, InteractionID="from-the-future")]
            + lines[third: 2 * third]
            + [shifted(login, 100 * YEAR_MS)]
            + lines[2 * third:]
        )
        + "\n"
    )
    return path


def dead_letters(pipe: Pipeline, worker) -> list[dict]:
    return [
        r
        for _, r in read_topics(
            pipe.bootstrap, [pipe.topic("dead-letters")], want=2, idle_s=3, timeout_s=60,
            alive=lambda: worker.poll() is None,
        )
    ]


def test_event_clock_worker_dead_letters_future_events_and_matches_replay_without_them(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = scenario("routed-emails.stats.yaml")
    clean = day_file(tmp_path / "clean.jsonl")
    events = with_future_events(clean, tmp_path / "events.jsonl")
    want_actions, want_stats = run_replay(clean, config)

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        got, got_stats = pipe.collect(
            worker, len(want_actions), idle_s=5, timeout_s=150, want_stats=want_stats
        )
        letters = dead_letters(pipe, worker)
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    assert [r["ErrorKind"] for r in letters] == ["future-time", "future-time"], logs
    assert all("ahead of the wall clock" in r["Reason"] for r in letters)
    assert Counter(canonical(r) for _, r in got) == Counter(map(canonical, want_actions)), logs
    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, (dict(list(wrong.items())[:10]), logs)
    # no statistic pushed into the future: the engine's clock never passed the clean input's end
    last_event = max(parse_time(json.loads(line)["EventTime"]) for line in clean.read_text().splitlines())
    assert max(r["EmittedAt"] for _, r in got_stats) <= last_event


def test_wall_clock_worker_keeps_processing_after_future_events(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Live: the last three quarters of an hour of a contact centre, with two events stamped a year
    and a century ahead of now; every action of the other events arrives, and their statistics."""
    config = scenario("routed-emails.stats.yaml")
    # The simulator's traffic follows the time of day: simulate a morning, then move it to now.
    sim = Simulator(agents=4, hours=0.75, per_hour=90, seed=5, tenant="t1", start="2026-03-02T09:00:00Z")
    rows = sorted(sim.events(), key=lambda e: parse_time(e["EventTime"]))
    shift = int(time.time() * 1000) - 60_000 - parse_time(rows[-1]["EventTime"])
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(shifted(json.dumps(e), shift) for e in rows) + "\n")
    events = with_future_events(clean, tmp_path / "events.jsonl")
    want_actions, want_stats = run_replay(clean, config)
    assert len(want_actions) > 100

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="wall")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        got, got_stats = pipe.collect(worker, len(want_actions), idle_s=5, timeout_s=150)
        letters = dead_letters(pipe, worker)
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    assert [r["ErrorKind"] for r in letters] == ["future-time", "future-time"], logs
    assert Counter(canonical(r) for _, r in got) == Counter(map(canonical, want_actions)), logs
    # Statistics keep flowing for the objects of the events after the bad ones, on today's clock.
    keys = {(r["Statistic"], r["ObjectType"], r["ObjectID"]) for r in want_stats}
    live = {(r["Statistic"], r["ObjectType"], r["ObjectID"]) for _, r in got_stats}
    assert keys <= live, (sorted(keys - live)[:10], logs)
    assert max(r["EmittedAt"] for _, r in got_stats) < int(time.time() * 1000) + 60_000
