"""Stages 3 and 4 over any number of partitions, without a broker: the partitioned statistics topology.

:class:`PartitionedStats` is fed what stage 2 produces — actions, and watermarks that stage 2
broadcasts to every stats partition — in the order replay's ``CoreDriver`` makes them. It routes
each action by a hash of ``action_key`` to one of ``partitions`` :class:`~pipeline.stats.partials.
PartialStats`, moves their partial updates by a hash of ``Key`` to one of ``merge_partitions``
:class:`~pipeline.stats.partials.MergeStats`, and forwards each stats partition's watermark to every
merge partition after that partition's updates. It returns the records of own objects (from stage 3)
and of merged objects (from stage 4).

Every hop is a FIFO queue, like a Kafka partition: the inbox of each stats partition, and the channel
from each stats partition to each merge partition. Without ``rng`` each message is delivered at once.
With a ``random.Random`` the driver delivers from randomly chosen queues at random moments — so
partitions run ahead of each other and watermarks and updates are delayed — but never reorders one
queue, which is what Kafka guarantees and no more. With one partition everything is own and the
records are those of replay's single :class:`~pipeline.stats.ordered.OrderedStats`.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from pipeline.core.ordering import DEFAULT_WINDOW_MS
from pipeline.records.keys import action_key, partition_of
from pipeline.stats.config import Config
from pipeline.stats.partials import MergeStats, PartialStats


class PartitionedStats:
    """Stage 3 on ``partitions`` partitions and stage 4 on ``merge_partitions``, with FIFO hops."""

    def __init__(self, config: Config, partitions: int = 1, merge_partitions: int = 1,
                 window_ms: int = DEFAULT_WINDOW_MS, rng: random.Random | None = None) -> None:
        if partitions < 1 or merge_partitions < 1:
            raise ValueError("partitions and merge_partitions must be at least 1")
        self.partitions = partitions
        self.stats = [PartialStats(config, p, partitions, window_ms) for p in range(partitions)]
        # With one partition nothing is partial: no stage 4.
        merges = merge_partitions if partitions > 1 else 0
        self.merges = [MergeStats(config, partitions) for _ in range(merges)]
        self.rng = rng
        self._inbox: list[deque] = [deque() for _ in range(partitions)]
        # (stats partition, merge partition) → updates and watermarks, in the order they were sent
        self._channels: dict[tuple[int, int], deque] = {
            (p, m): deque() for p in range(partitions) for m in range(len(self.merges))
        }
        self.updates = 0  # partial updates sent to stage 4

    # ---- input (stage 2's output)

    def push(self, action: dict[str, Any]) -> list[dict]:
        """One action to its stats partition; returns the records delivered meanwhile."""
        self._inbox[partition_of(action_key(action), self.partitions)].append(("action", action))
        return self._pump()

    def watermark(self, t: int) -> list[dict]:
        """Stage 2's watermark, broadcast to every stats partition."""
        for inbox in self._inbox:
            inbox.append(("watermark", t))
        return self._pump()

    def flush(self) -> list[dict]:
        """End of input: deliver everything, apply every held action and update."""
        out = self._drain()
        for p, stats in enumerate(self.stats):
            _tags, records = stats.flush()
            out += records
            self._send(p, stats)
        out += self._drain()
        for merge in self.merges:
            out += merge.flush()[1]
        return out

    def finals(self, until: int) -> list[dict]:
        """One Final per statistic and object at ``until`` (own objects from stage 3, merged from 4)."""
        out: list[dict] = []
        for stats in self.stats:
            out += stats.finals(until)
        for merge in self.merges:
            out += merge.finals(until)
        return out

    # ---- replay's interface (``OrderedStats``'s iterators)

    def iter_push(self, action: dict[str, Any]) -> Iterator[dict]:
        return iter(self.push(action))

    def iter_release_to(self, watermark: int) -> Iterator[dict]:
        return iter(self.watermark(watermark))

    def iter_flush(self) -> Iterator[dict]:
        return iter(self.flush())

    def iter_finals(self, until: int) -> Iterator[dict]:
        return iter(self.finals(until))

    # ---- delivery

    def _send(self, p: int, stats: PartialStats) -> None:
        for update in stats.take_partials():
            self.updates += 1
            self._channels[(p, partition_of(update["Key"], len(self.merges)))].append(("update", update))

    def _deliver(self, queue: tuple[str, Any]) -> list[dict]:
        """Deliver the first message of one queue (("in", p) or ("ch", (p, m)))."""
        kind, where = queue
        if kind == "in":
            what, value = self._inbox[where].popleft()
            stats = self.stats[where]
            if what == "action":
                _tags, records = stats.push(value)
            else:
                _tags, records = stats.release_to(value)
            self._send(where, stats)
            if what == "watermark":
                for m in range(len(self.merges)):
                    self._channels[(where, m)].append(("watermark", value))
            return records
        what, value = self._channels[where].popleft()
        merge = self.merges[where[1]]
        if what == "update":
            return merge.push(value)[1]
        return merge.watermark(where[0], value)[1]

    def _queues(self) -> list[tuple[str, Any]]:
        return [("in", p) for p, q in enumerate(self._inbox) if q] + [
            ("ch", pm) for pm, q in self._channels.items() if q
        ]

    def _pump(self) -> list[dict]:
        """Without ``rng``: deliver everything now. With it: deliver a random number of messages from
        randomly chosen queues (the rest waits: a partition lagging behind)."""
        if self.rng is None:
            return self._drain()
        out: list[dict] = []
        while self.rng.random() < 0.75:
            queues = self._queues()
            if not queues:
                break
            out += self._deliver(self.rng.choice(queues))
        return out

    def _drain(self) -> list[dict]:
        out: list[dict] = []
        while True:
            queues = self._queues()
            if not queues:
                return out
            out += self._deliver(queues[0] if self.rng is None else self.rng.choice(queues))
