"""The Kafka pipeline against replay: same events in, the same action records and statistics out.

records.md: "The Kafka pipeline fed the same events (one partition, same order) yields the same
action records and the same final statistic values." The worker runs as a real process on the real
broker with the event clock, so both sides see the same time.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.golden import OWN
from tests.stream.harness import (
    Pipeline,
    canonical,
    day_file,
    end_offsets,
    read_topics,
    run_replay,
    statistics_differences,
)

pytestmark = pytest.mark.integration


def raw_values(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) of a one-partition topic, undecoded."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "raw-" + uuid.uuid4().hex})
    try:
        tp = TopicPartition(topic, 0)
        _, high = consumer.get_watermark_offsets(tp, timeout=10)
        tp.offset = 0
        consumer.assign([tp])
        out: list[tuple[bytes | None, bytes]] = []
        while len(out) < high:
            msg = consumer.poll(5)
            assert msg is not None, f"{topic}: {len(out)} of {high} read"
            if not msg.error():
                out.append((msg.key(), msg.value()))
        return out
    finally:
        consumer.close()


def test_pipeline_gives_the_same_actions_and_statistics_as_replay(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl")
    want_actions, want_stats = run_replay(events, config)
    assert len(want_actions) > 1000

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        got, got_stats = pipe.collect(
            worker, len(want_actions), idle_s=5, timeout_s=150, want_stats=want_stats
        )
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    got_actions = [r for _, r in got]
    assert Counter(map(canonical, got_actions)) == Counter(map(canonical, want_actions)), logs

    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, (dict(list(wrong.items())[:10]), logs)

    # Stage 3 reads one message per input of stages 1 and 2 (a bundle of its actions), not one per
    # action: what caps a worker's throughput is faust's messages per second.
    carried = [
        json.loads(v) for k, v in raw_values(kafka_bootstrap, pipe.topic("stats-inputs")) if k != b"watermark"
    ]
    assert sum(len(b["Actions"]) for b in carried) == len(want_actions)
    assert len(carried) < len(want_actions) / 2


def test_bad_input_goes_to_the_dead_letter_topic(kafka_bootstrap: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = (OWN / "routed-emails.events.jsonl").read_text().splitlines()
    events.write_text(
        "\n".join(
            [
                good[0],
                "not json at all",
                '{"Event": "EventNope", "TenantID": "t1", "EventTime": "2026-03-02T09:00:00Z"}',
                *good[1:],
            ]
        )
        + "\n"
    )
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=OWN / "routed-emails.stats.yaml")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        letters = read_topics(
            kafka_bootstrap,
            [pipe.topic("dead-letters")],
            want=2,
            idle_s=3,
            timeout_s=90,
            alive=lambda: worker.poll() is None,
        )
        actions = read_topics(kafka_bootstrap, [pipe.topic("actions")], want=88, idle_s=3, timeout_s=60)
    finally:
        pipe.stop_all()
    kinds = sorted(r["ErrorKind"] for _, r in letters)
    assert kinds == ["decode", "unknown-event"], pipe.logs()
    assert {r["Payload"] for _, r in letters if r["ErrorKind"] == "decode"} == {b"not json at all"}
    assert len(actions) == 88, pipe.logs()  # 48 Agent/Queue actions + 40 Place mirrors


@pytest.mark.soak  # test_scale_out.py runs every topic on 4 partitions in make test; this one on request
def test_partitions_do_not_change_the_result(kafka_bootstrap: str, tmp_path: Path) -> None:
    """README "Order": three partitions for events, agent inputs, stats inputs and the partials topic;
    stage 1 partitions run hours of event time apart on a backlog, and the watermarks still give
    replay's action records and statistics (stage 3 releases Queue actions, too, only behind stage
    2's watermarks; group and tenant statistics are merged from the stage-3 partitions' partials)."""
    from pipeline.kafka.admin import ensure_topics

    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl", agents=8, hours=1.0, per_hour=120)
    want_actions, want_stats = run_replay(events, config)
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    kinds = ("events", "agent-inputs", "stats-inputs", "stat-partials")
    ensure_topics(kafka_bootstrap, [pipe.topic(kind) for kind in kinds], partitions=3)
    try:
        pipe.feed(events)
        worker = pipe.start_worker("w1")
        got, got_stats = pipe.collect(worker, len(want_actions), want_stats=want_stats)
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    by_id = {r["ActionID"]: canonical(r) for _, r in got}
    assert by_id == {a["ActionID"]: canonical(a) for a in want_actions}, logs
    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, (dict(list(wrong.items())[:10]), logs)
    # Group and tenant statistics really went through stage 4 (partials of the 3 stage-3 partitions).
    assert end_offsets(kafka_bootstrap, pipe.topic("stat-partials")) > 0
