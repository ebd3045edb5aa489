"""Large bad records on the real broker: each one is dead-lettered, none is lost, none stops the stage.

A dead letter is the payload plus its provenance; a payload near the broker's message limit made it
larger than the producer's maximum, the send failed and stage 1 moved past the record. The events
topic here accepts 2 MB messages (a bridge may be configured so), so values of 0.9, 1.0 and 1.05 MB
reach the worker; each must come out on the dead-letter topic with its reason and original size,
and the good events around them must still give their actions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.feed import prepare_line
from tests.golden import scenario
from tests.stream.harness import Pipeline, read_topics, run_replay

pytestmark = pytest.mark.integration

SIZES = (900_000, 1_000_000, 1_050_000)


def corrupt_value(size: int) -> bytes:
    """Not JSON and not Avro, exactly ``size`` bytes, its size readable at the start."""
    head = f"corrupt {size}: ".encode()
    return head + b"#" * (size - len(head))


# The broker's default limit: ``-m soak`` only (make test within 15 minutes); the 200,000-byte case
# makes every assertion of it and the smaller letter besides, and test_pipeline's bad-input test
# dead-letters records under the default limit.
@pytest.mark.parametrize("letter_limit", [pytest.param(None, marks=pytest.mark.soak), 200_000])
def test_large_bad_records_are_dead_lettered_and_good_ones_processed(
    kafka_bootstrap: str, tmp_path: Path, letter_limit: int | None
) -> None:
    """``letter_limit``: the dead-letter topic's ``max.message.bytes`` (None: the broker's default).
    At 200,000 bytes the broker refuses the first send of every letter, as it would a topic an
    operator configured smaller: stage 1 must send a smaller letter, not crash past the record."""
    good = [line.encode() for line in scenario("routed-emails.events.jsonl").read_text().splitlines()]
    events, config = scenario("routed-emails.events.jsonl"), scenario("routed-emails.stats.yaml")
    want_actions = len(run_replay(events, config)[0])  # the good events' actions, as replay makes them
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=scenario("routed-emails.stats.yaml"))
    ensure_topics(kafka_bootstrap, [pipe.topic("events")], config={"max.message.bytes": "2000000"})
    if letter_limit is not None:
        ensure_topics(
            kafka_bootstrap, [pipe.topic("dead-letters")], config={"max.message.bytes": str(letter_limit)}
        )
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
    failures: list[str] = []

    def delivered(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    # A bad record after the first, the third and the fifth good event: before, inside and after
    # the interaction, so a stage that skipped or stalled on one would lose actions.
    bad = iter(SIZES)
    for n, line in enumerate(good):
        key, value, valid = prepare_line(line)
        assert valid
        producer.produce(pipe.topic("events"), key=key, value=value, on_delivery=delivered)
        if n in (0, 2, 4):
            value = corrupt_value(next(bad))
            producer.produce(pipe.topic("events"), key=b"i1", value=value, on_delivery=delivered)
    assert producer.flush(60) == 0 and not failures, failures

    try:
        worker = pipe.start_worker()
        actions = read_topics(
            kafka_bootstrap,
            [pipe.topic("actions")],
            want=want_actions,
            idle_s=3,
            timeout_s=120,
            alive=lambda: worker.poll() is None,
        )
        letters = read_topics(kafka_bootstrap, [pipe.topic("dead-letters")], want=3, idle_s=3, timeout_s=60)
        alive = worker.poll() is None
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    assert alive, logs
    assert len(actions) == want_actions, logs
    assert len(letters) == 3, ([{k: v for k, v in r.items() if k != "Payload"} for _, r in letters], logs)
    by_size = {r["PayloadSize"]: r for _, r in letters}
    assert sorted(by_size) == sorted(SIZES)
    for size, letter in by_size.items():
        assert letter["ErrorKind"] == "decode" and "JSON" in letter["Reason"]
        assert letter["SourceTopic"] == pipe.topic("events")
        payload = letter["Payload"]
        assert payload.startswith(f"corrupt {size}: ".encode())
        assert len(payload) <= size
        assert letter_limit is None or len(payload) < letter_limit
        assert letter["PayloadTruncated"] == (len(payload) < size)
    # the largest cannot fit a producer's 1,000,000-byte request: it must have been cut
    assert by_size[1_050_000]["PayloadTruncated"]
