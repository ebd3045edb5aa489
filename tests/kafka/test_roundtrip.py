"""Every record type survives a real Kafka round trip in the Avro single-object encoding."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from pipeline.kafka.admin import ensure_topics
from pipeline.records.codec import decode, encode
from pipeline.records.schemas import RECORD_TYPES
from tests.records.samples import FULL, MINIMAL, with_nulls

pytestmark = pytest.mark.integration


def test_every_record_type_round_trips(kafka_bootstrap: str) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(kafka_bootstrap, [topic]) == [topic]
    assert ensure_topics(kafka_bootstrap, [topic]) == []  # idempotent

    sent = [(t, r) for t in RECORD_TYPES for r in (MINIMAL[t], FULL[t])]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, (record_type, record) in enumerate(sent):
        producer.produce(topic, key=f"k{i}".encode(), value=encode(record_type, record))
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received = []
    deadline = time.monotonic() + 30
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            received.append((msg.key(), decode(msg.value())))
    finally:
        consumer.close()

    assert [k for k, _ in received] == [f"k{i}".encode() for i in range(len(sent))]
    assert [v for _, v in received] == [(t, with_nulls(t, r)) for t, r in sent]
