"""What the Faust adapters put around a step object (:mod:`pipeline.core.steps`): its table, its
messages.

:class:`PartitionTable` shows a step one partition of a write-behind faust table through the step's
small table protocol (``get/put/delete/items``); :class:`Topics` encodes a step's plain-data
messages and queues them on the worker's producer batch: action records in the pipeline's framing
(they are public), the internal topics as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.core.steps import ACTIONS, AGENT_INPUTS, LATE, STATS_INPUTS, Message
from pipeline.stream import delivery
from pipeline.stream.batches import WriteBehind
from pipeline.stream.expiry import partition_entries
from pipeline.stream.producer import Batch


class PartitionTable:
    """One partition of a :class:`WriteBehind` table (the current faust event must be of it)."""

    def __init__(self, table: WriteBehind, partition: int) -> None:
        self.table = table
        self.partition = partition

    def get(self, key: bytes) -> Any:
        return self.table.get(self.partition, key)

    def put(self, key: bytes, value: Any) -> None:
        self.table.put(self.partition, key, value)

    def delete(self, key: bytes) -> None:
        self.table.delete(self.partition, key)

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """The partition's entries as RocksDB holds them (read when a step is made, at the start of a
        batch, when every state of the partition is written)."""
        for key, raw in partition_entries(self.table.table, self.partition):
            yield bytes(key), delivery.loads(raw)


class Topics:
    """Step messages → Kafka records on the pipeline's topics."""

    def __init__(self, topics: Any, serialization: Any, late_sink: Any = None) -> None:
        self.names = {
            ACTIONS: topics.actions,
            AGENT_INPUTS: topics.agent_inputs,
            STATS_INPUTS: topics.stats_inputs,
        }
        self.serialization = serialization
        self.late_sink = late_sink

    def produce(self, out: Batch, messages: Iterable[Message]) -> None:
        """Queue ``messages`` on ``out`` in order; late records go to the late sink's own timer."""
        names = self.names
        for m in messages:
            if m.kind == ACTIONS:
                value = self.serialization.encode("ActionRecord", m.value, names[ACTIONS])
            elif m.kind == LATE:
                if self.late_sink is not None:
                    self.late_sink.pending.append(m.value)
                continue
            else:
                value = delivery.dumps(m.value)
            out.produce(names[m.kind], m.key, value, partition=m.partition)
