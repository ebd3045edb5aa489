"""Two workers share a pipeline: the second joins while the first is in the middle of a backlog.

The join moves partitions of every stage's input topic (events and agent inputs on 3 partitions)
while inputs wait in stage 2's reorder windows and stage 3's checkpoint interval. Every assigned
partition opens afresh and the offset guard keeps each stage's input contiguous
(pipeline/stream/guard.py), so:
- every action record of replay arrives (same record, same ActionID), and no other;
- statistics equal replay's (each action counted once);
- an action may arrive more than once (at-least-once delivery; readers drop repeats by ActionID).
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.golden import OWN
from tests.stream.harness import (
    Pipeline,
    canonical,
    day_file,
    end_offsets,
    run_replay,
    statistics_differences,
)

pytestmark = pytest.mark.integration

#: Where the second worker joins: this share of replay's actions already on the actions topic.
JOIN_AT = 0.3


def wait_for_offsets(bootstrap: str, topic: str, at_least: int, worker, timeout_s: float = 150) -> int:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline and worker.poll() is None:
        seen = end_offsets(bootstrap, topic)
        if seen >= at_least:
            return seen
        time.sleep(0.2)
    return seen


def group_members(bootstrap: str, group: str) -> dict[str, set[tuple[str, int]]]:
    """Member id → its assigned (topic, partition)s, as the broker reports the group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=30)
    return {
        m.member_id: {(tp.topic, tp.partition) for tp in (m.assignment.topic_partitions or [])}
        for m in description.members
    }


def guard_figures(pipe: Pipeline, workers: list) -> dict[str, int]:
    """The offset guard's counters of both workers, summed over stages (from their /metrics)."""
    totals: dict[str, int] = {}
    for worker in workers:
        text = urllib.request.urlopen(pipe.web_url(worker) + "metrics", timeout=30).read().decode()
        for line in text.splitlines():
            for name in ("offset_ahead", "offset_repeats", "offset_seeks", "silent_partition_reports"):
                if line.startswith(f"mediastat_{name}_total{{"):
                    totals[name] = totals.get(name, 0) + int(float(line.rsplit(" ", 1)[1]))
    return totals


def run_two_workers(kafka_bootstrap: str, tmp_path: Path) -> dict[str, int]:
    from pipeline.kafka.admin import ensure_topics

    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl", agents=12, hours=2.0, per_hour=200)
    want_actions, want_stats = run_replay(events, config)
    total = len(want_actions)

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    # stats-inputs keeps its one partition: group and tenant statistics gather many agents' actions.
    ensure_topics(kafka_bootstrap, [pipe.topic("events"), pipe.topic("agent-inputs")], partitions=3)
    try:
        pipe.feed(events)
        first = pipe.start_worker("w1", web_port=0)
        reached = wait_for_offsets(kafka_bootstrap, pipe.topic("actions"), int(total * JOIN_AT), first)
        assert first.poll() is None, pipe.logs()
        assert reached < total, "the first worker finished before the second joined: nothing tested"
        second = pipe.start_worker("w2", web_port=0)
        got, got_stats = pipe.collect(first, total, idle_s=8, timeout_s=300, want_stats=want_stats)
        alive = first.poll() is None and second.poll() is None
        members = group_members(kafka_bootstrap, pipe.app_id) if alive else {}
        guard = guard_figures(pipe, [first, second]) if alive else {}
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    assert alive, logs
    # Both workers hold input partitions at the end: the join did move partitions.
    inputs = {pipe.topic("events"), pipe.topic("agent-inputs"), pipe.topic("stats-inputs")}
    holding = [m for m, tps in members.items() if any(t in inputs for t, _ in tps)]
    assert len(holding) == 2, (members, logs)

    by_id: dict[str, str] = {}
    for _, rec in got:
        text = canonical(rec)
        assert by_id.setdefault(rec["ActionID"], text) == text, "one ActionID, two different records"
    want_by_id = {a["ActionID"]: canonical(a) for a in want_actions}
    lost = want_by_id.keys() - by_id.keys()
    foreign = by_id.keys() - want_by_id.keys()
    figures = {
        "actions": total,
        "at_join": reached,
        "delivered": len(got),
        "lost": len(lost),
        "foreign": len(foreign),
        "repeats": len(got) - len(by_id),
        **guard,
    }
    print("two workers:", json.dumps(figures))
    assert not lost, f"{len(lost)} of {total} actions lost\n{logs}"
    assert not foreign, f"{len(foreign)} actions replay does not produce\n{logs}"
    assert by_id == want_by_id

    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, json.dumps(dict(list(wrong.items())[:10]), indent=1) + "\n" + logs
    return figures


@pytest.mark.slow
@pytest.mark.soak  # `make test` covers a join with the scale-out test (a second worker at about 30 %)
def test_a_second_worker_joining_mid_backlog_loses_nothing_and_counts_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run_two_workers(kafka_bootstrap, tmp_path)


@pytest.mark.slow
@pytest.mark.soak  # a loop: `pytest -m soak`, with the test above
@pytest.mark.parametrize("run", range(3))
def test_a_second_worker_joining_mid_backlog_again_and_again(
    kafka_bootstrap: str, tmp_path: Path, run: int
) -> None:
    """The same, three times: the loss it guards against came in 3 of 8 runs before."""
    run_two_workers(kafka_bootstrap, tmp_path)
