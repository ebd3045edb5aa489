"""Reads the compacted statistic topics from the beginning into a :class:`StatStore`, then follows.

An assigned consumer (no group): every worker reads every partition, so whichever worker a client
asks has every latest value — no routing to the owner is needed. Compaction keeps the replay of
history short (one record per statistic and object).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from pipeline.kafka.backoff import RETRY_BACKOFF_MS, metadata_backoff
from pipeline.records.codec import decode
from pipeline.records.errors import BadRecord
from pipeline.web.store import StatStore

log = logging.getLogger(__name__)


async def follow(bootstrap: str, topics: list[str], store: StatStore, stop: asyncio.Event) -> None:
    """Feed ``store`` until ``stop`` is set (the worker creates the topics before it starts)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        retry_backoff_ms=RETRY_BACKOFF_MS,  # as the stages, while Kafka is away
    )
    metadata_backoff(consumer._client)
    await consumer.start()
    try:
        consumer.subscribe(topics)  # no group: every partition of every topic, from the beginning
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for messages in batches.values():
                for msg in messages:
                    try:
                        _, rec = decode(msg.value, expected="StatValue")
                    except BadRecord as bad:
                        log.warning("wallboard: undecodable statistic on %s: %s", msg.topic, bad.reason)
                        continue
                    store.put(rec)
    finally:
        await consumer.stop()
