"""Which finished interactions stage 1 may forget, per partition, rebuilt from the table itself.

The interactions table keeps a finished interaction for a retention time (``stopped_at`` plus
:data:`pipeline.core.driver.DEFAULT_RETENTION_MS` of event time) so late events of it are still
recognised, then deletes it. The order of deletion is an index in memory; on its own it would be
lost at every restart and rebalance, and every interaction finished before one would stay in the
table for ever. So the index is not the truth: the table is. When a worker gets a partition (start,
restart, rebalance) the index of that partition is rebuilt by scanning the partition's RocksDB
entries for finished states, the first time stage 1 handles a message of it (faust delivers
messages only once the table has recovered from its changelog, so the scan sees the whole state).
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from collections.abc import Iterable, Iterator


class FinishedIndex:
    """(stopped_at, key) of finished interactions per partition, oldest first."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[tuple[int, bytes]]] = {}

    def built(self, partition: int) -> bool:
        return partition in self._queues

    def rebuild(self, partition: int, entries: Iterable[tuple[bytes, bytes]]) -> int:
        """Index every finished state among a partition's ``(key, JSON value)`` entries."""
        found = []
        for key, raw in entries:
            stopped_at = json.loads(raw).get("stopped_at")
            if stopped_at is not None:
                found.append((stopped_at, bytes(key)))
        found.sort()
        self._queues[partition] = deque(found)
        return len(found)

    def add(self, partition: int, stopped_at: int, key: bytes) -> None:
        queue = self._queues.setdefault(partition, deque())
        if queue and queue[-1] > (stopped_at, key):  # interactions of a partition stop out of order
            bisect.insort(queue, (stopped_at, key))
        else:
            queue.append((stopped_at, key))

    def queue(self, partition: int) -> deque[tuple[int, bytes]]:
        return self._queues.setdefault(partition, deque())

    def forget_all(self) -> None:
        """Drop every partition's index: after a rebalance a partition's table may have been
        written by another worker meanwhile, so each is rebuilt when next used."""
        self._queues.clear()


def partition_entries(table, partition: int) -> Iterator[tuple[bytes, bytes]]:
    """The raw ``(key, value)`` entries a faust RocksDB table holds for one partition.

    faust's public iteration spans every active partition; deleting must happen while handling a
    message of the key's own partition (faust writes the tombstone to that changelog partition), so
    the index is per partition and reads each partition's database on its own.
    """
    store = table.data
    yield from store._visible_items(store._db_for_partition(partition))
