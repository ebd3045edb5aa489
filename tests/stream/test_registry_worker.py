"""A worker with ``--serialization registry`` on the real broker: it reads single-object events,
dead-letters a registry-framed record whose schema id its registry does not know (and carries on),
and writes every action, statistic and dead letter in Confluent Schema Registry framing.

The worker runs as its own process with ``--schema-registry-url mock://…``, and a ``mock://``
registry lives inside one process: the test cannot ask the worker's registry for its ids. It
therefore checks the framing itself (magic byte 0, a 4-byte schema id, one id per subject) and
decodes each body with our ``.avsc`` schema, which is the one the worker registered and wrote with.
The same process-wide registry is what ``tests/kafka/test_registry_tail.py`` shares in-process.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from fastavro import schemaless_reader

from pipeline.kafka.feed import prepare_line
from pipeline.records.schemas import load_schema
from pipeline.records.serialization import from_avro
from tests.golden import scenario
from tests.stream.harness import Pipeline, canonical, read_topics, run_replay, statistics_differences

pytestmark = pytest.mark.integration

UNKNOWN_ID = 4242


def registry_body(value: bytes, record_type: str) -> tuple[int, dict]:
    """(schema id, record) of a registry-framed message written with today's ``record_type`` schema."""
    assert value[0] == 0, value[:10]
    body = io.BytesIO(value)
    body.seek(5)
    record = schemaless_reader(body, load_schema(record_type).parsed, None)
    assert body.tell() == len(value), "the whole body is one record of today's schema"
    return int.from_bytes(value[1:5], "big"), from_avro(record_type, record)


def test_a_registry_worker_dead_letters_an_unknown_schema_id_and_frames_its_outputs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    events, config = scenario("routed-emails.events.jsonl"), scenario("routed-emails.stats.yaml")
    want_actions, want_stats = run_replay(events, config)
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    unknown = b"\x00" + UNKNOWN_ID.to_bytes(4, "big") + b"\x02\x04ab"
    producer.produce(pipe.topic("events"), key=b"i1", value=unknown)  # first: nothing may stall on it
    for line in events.read_text().splitlines():
        key, value, valid = prepare_line(line.encode())  # single-object, as feed writes by default
        assert valid
        producer.produce(pipe.topic("events"), key=key, value=value)
    assert producer.flush(60) == 0

    url = "mock://registry-worker-test"
    try:
        worker = pipe.start_worker(extra=("--serialization", "registry", "--schema-registry-url", url))
        actions = read_topics(
            kafka_bootstrap,
            [pipe.topic("actions")],
            want=len(want_actions),
            idle_s=3,
            timeout_s=150,
            alive=lambda: worker.poll() is None,
        )
        letters = read_topics(kafka_bootstrap, [pipe.topic("dead-letters")], want=1, idle_s=2, timeout_s=30)
        stat_topics = sorted({pipe.topic(f"stat.{r['StatType']}") for r in want_stats})
        deadline = time.monotonic() + 90
        while True:  # stage 3 applies the last actions when stage 2's final watermark comes
            stats = read_topics(kafka_bootstrap, stat_topics, idle_s=3, timeout_s=60)
            framed = [(t, registry_body(r["raw"], "StatValue")[1]) for t, r in stats if "raw" in r]
            if not statistics_differences(framed, want_stats) or time.monotonic() > deadline:
                break
            time.sleep(3)
        alive = worker.poll() is None
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    assert alive, logs

    # every message came out registry-framed (read_topics' single-object decoder gave up on each)
    assert all("raw" in r for _, r in actions + letters + stats), logs
    decoded = [registry_body(r["raw"], "ActionRecord") for _, r in actions]
    assert len({schema_id for schema_id, _ in decoded}) == 1
    assert sorted(canonical(a) for _, a in decoded) == sorted(canonical(a) for a in want_actions), logs

    assert len(letters) == 1, logs
    _, letter = registry_body(letters[0][1]["raw"], "DeadLetter")
    assert letter["ErrorKind"] == "decode"
    why = f"unknown schema id {UNKNOWN_ID}: the schema registry at {url} does not have it"
    assert letter["Reason"] == why
    assert letter["Payload"] == unknown and letter["SourceTopic"] == pipe.topic("events")

    assert stats and statistics_differences(framed, want_stats) == {}, logs
