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
from pipeline.kafka.client import KafkaClient, as_client
from pipeline.records.errors import BadRecord
from pipeline.records.serialization import Serialization, SingleObject
from pipeline.web.store import StatStore

log = logging.getLogger(__name__)


async def follow(
    bootstrap: str | KafkaClient,
    topics: list[str],
    store: StatStore,
    stop: asyncio.Event,
    serialization: Serialization | None = None,
) -> None:
    """Feed ``store`` until ``stop`` is set (the worker creates the topics before it starts).

    ``serialization`` is the worker's (either framing is read; default: single-object only)."""
    serialization = serialization or SingleObject()
    consumer = AIOKafkaConsumer(
        **as_client(bootstrap).aiokafka(),  # the worker's servers and security settings
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
                        _, rec = serialization.decode(msg.value, msg.topic, expected="StatValue")
                    except BadRecord as bad:
                        log.warning("wallboard: undecodable statistic on %s: %s", msg.topic, bad.reason)
                        continue
                    store.put(rec)
    finally:
        await consumer.stop()
