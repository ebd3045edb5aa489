"""aiokafka retries with backoff: the options aiokafka lacks or faust does not pass on.

aiokafka retries every failed request after ``retry_backoff_ms`` (100 ms by default; faust gives
no way to change it), and refreshes metadata again as soon as a refresh has failed whenever a
producer batch waits for an unknown partition leader. With the broker away every attempt fails at
once (connection refused), so those loops spin: about 1,600 connection attempts a second, and an
ERROR line for each. Used by the worker's faust transport (:mod:`pipeline.stream.outage`) and by
the wallboard's reader (:mod:`pipeline.web.reader`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiokafka

#: aiokafka's wait before retrying a failed request (its default is 100 ms).
RETRY_BACKOFF_MS = 500
#: The longest wait after a failed metadata refresh (see :func:`metadata_backoff`).
MAX_METADATA_BACKOFF_S = 2.0


def slow_retries(consumer: aiokafka.AIOKafkaConsumer, backoff_ms: int = RETRY_BACKOFF_MS) -> None:
    """Give a consumer faust has built ``backoff_ms`` between retries (faust passes no such option).

    The consumer hands ``retry_backoff_ms`` to its fetcher and group coordinator when it starts, and
    its client has taken it already; both are set here, before the start.
    """
    consumer._retry_backoff_ms = backoff_ms
    consumer._client._retry_backoff = backoff_ms / 1000


def metadata_backoff(
    client: aiokafka.AIOKafkaClient,
    first_s: float = RETRY_BACKOFF_MS / 1000,
    max_s: float = MAX_METADATA_BACKOFF_S,
) -> None:
    """Make each failed metadata refresh of ``client`` wait, 0.5 s, then 1 s, then 2 s at most.

    aiokafka refreshes metadata whenever a connection fails, and its producer, with a batch whose
    partition leader is unknown, asks for a refresh again as soon as the last one is done. With the
    broker away every refresh fails at once (connection refused), so that loop alone made about
    1,600 connection attempts a second. The wait sits inside the refresh, so everyone awaiting it
    waits too; the first success resets it.
    """
    refresh = client._metadata_update
    failures = 0

    async def _metadata_update(cluster_metadata: Any, topics: Any) -> bool:
        nonlocal failures
        updated = await refresh(cluster_metadata, topics)
        if updated:
            failures = 0
        else:
            await asyncio.sleep(min(max_s, first_s * 2**failures))
            failures += 1
        return updated

    client._metadata_update = _metadata_update
