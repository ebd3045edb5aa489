"""End offsets asked of the broker on a connection of their own, never behind the consumer's fetch.

Stage 1 asks for the end offsets of its input partitions once a second, in its batch loop
(:meth:`pipeline.stream.guard.StageGuard.refresh_ends`), so that it never announces progress for a
partition that still has input waiting. Asked through faust's consumer (aiokafka), the request
goes on the connection that also carries the consumer's fetches, and a broker answers one
connection's requests in order. faust fetches with a long poll (``fetch_max_wait_ms=1500``), so the
answer waited behind any fetch of partitions with nothing new: 0.5–1.7 s a time, measured on the
bench's 100-agent day, 9.6 s of stage 1's 11.3 s in its batch loop. Stage 1 read no input
meanwhile, and every later stage waited for it.

:class:`EndOffsets` asks with confluent-kafka's admin client instead (its own connections and
thread, librdkafka's ListOffsets), awaited as an asyncio future: a few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

#: How long one request may take before the stage goes on with the ends it knew.
REQUEST_TIMEOUT_S = 10.0


class EndOffsets:
    """``await ends(tps)`` → {(topic, partition): end offset} of the partitions the broker answered
    for. The admin client is made on first use from the worker's client configuration (``config``:
    ``KafkaClient.admin()``), so SASL and TLS settings apply as to every other client."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._admin: Any = None

    def _client(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(self._config)
        return self._admin

    async def __call__(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        from confluent_kafka import TopicPartition as KafkaTP
        from confluent_kafka.admin import OffsetSpec

        wanted = {KafkaTP(topic, partition): OffsetSpec.latest() for topic, partition in tps}
        if not wanted:
            return {}
        futures = self._client().list_offsets(wanted, request_timeout=REQUEST_TIMEOUT_S)
        ends: dict[TopicPartition, int] = {}
        for ktp, future in futures.items():
            try:
                info = await asyncio.wrap_future(future)
            except Exception as exc:  # a partition moved or a broker away: the next ask will do
                log.debug("end offset of %s:%d not available: %r", ktp.topic, ktp.partition, exc)
                continue
            if info.offset is not None and info.offset >= 0:
                ends[(ktp.topic, ktp.partition)] = int(info.offset)
        return ends
