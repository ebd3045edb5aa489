"""End offsets on a connection of their own (pipeline.stream.offsets), against a real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import Producer

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.client import KafkaClient
from pipeline.stream.offsets import EndOffsets

pytestmark = pytest.mark.integration


def test_end_offsets_are_the_partitions_high_watermarks(kafka_bootstrap: str) -> None:
    topic = f"test.offsets.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(7):
        producer.produce(topic, value=b"x", partition=i % 2)  # 4 on partition 0, 3 on 1
    assert producer.flush(30) == 0
    ends = EndOffsets(KafkaClient(kafka_bootstrap).admin())

    async def ask():
        return await ends([(topic, 0), (topic, 1), (topic, 5)]), await ends([])

    got, none = asyncio.run(ask())
    assert got == {(topic, 0): 4, (topic, 1): 3}  # partition 5 does not exist: left out
    assert none == {}
