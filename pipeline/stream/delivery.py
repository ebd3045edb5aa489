"""How a stage makes its effects survive a crash: outputs first, then state, then the inputs.

Every stage handles a batch of input messages (:mod:`pipeline.stream.batches`) like this:

1. for each input, if the key's state already records it (its source position), skip it: the state
   and the outputs of a previous attempt are both durable;
2. otherwise compute the new state and the outputs with the pure core, keeping the state in memory
   (write-behind) and producing the outputs without waiting (:mod:`pipeline.stream.producer`);
3. once the batch is done, **wait until Kafka has acknowledged every output of the batch**;
4. only then write each changed state (with the positions of the inputs it holds) to the RocksDB
   table, once per key, whose changelog faust flushes before it commits the input offsets;
5. then acknowledge the batch's inputs (in offset order per partition, :class:`InOrderAcks`).

A crash before 4 replays the batch's inputs on the old states: the same outputs again, with the
same deterministic ids (records.md: consumers drop repeats by ``ActionID``; stage 2 drops repeated
bundles by source position). A crash after 4 skips them. So state is applied exactly once and no
output is lost; outputs are delivered at least once. faust's exactly-once mode is not used (known
duplicate bugs on rebalance); the kill tests prove this mechanism instead.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

from pipeline.core.redelivery import (  # noqa: F401  (re-exported: the pure part of this protocol)
    RECENT_SOURCES,
    OffsetAcks,
    last_offset,
    remember,
    seen,
    source_position,
)


def dumps(obj: Any) -> bytes:
    """JSON of the internal topics and the state tables (orjson: about 8× faster than ``json``,
    which showed in the worker's profile; non-string keys become strings, as ``json`` does)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


#: RocksDB's options for each table. faust's defaults suit a server of its own: 64 MB write buffers,
#: up to three of them per table, and a block cache of 2 GB per table. A worker has three to four
#: tables, and stage 3's checkpoints write the whole statistics state (hundreds of megabytes at
#: 10,000 agents), which kept its write buffers full. Smaller buffers flush to disk sooner. The
#: stages keep what they read in memory (a key is read from RocksDB once: ``WriteBehind``, a
#: checkpoint's restore), so a small cache costs those first reads, not the inputs after them.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 8 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 32 * 1024 * 1024,
}


def raw_table(app, name: str, partitions: int | None):
    """A faust RocksDB table of bytes → bytes with as many partitions as the topic that feeds it."""
    # a copy each: faust's store takes keys out of the options it is given
    return app.Table(name, default=None, key_type=bytes, value_type=bytes, partitions=partitions,
                     options=dict(ROCKSDB_OPTIONS))


class InOrderAcks:
    """Acknowledge one partition's messages strictly in offset order.

    faust commits the first run of consecutive acknowledged offsets, and it does not see a gap at
    the head of that run right after a start or when one offset is missing. Stages that finish
    messages out of order (the reorder window, checkpoints) would then commit past a message still
    waiting, and lose it in a crash. So a finished message is acknowledged only once every message
    received before it (on that partition) is finished too.
    """

    def __init__(self) -> None:
        self._received: deque[Any] = deque()  # faust events in arrival (= offset) order
        self._finished: set[int] = set()

    def received(self, event: Any) -> None:
        self._received.append(event)

    def finished(self, event: Any) -> list[Any]:
        """Mark one message finished; returns those now safe to acknowledge, in order."""
        self._finished.add(event.message.offset)
        out = []
        while self._received and self._received[0].message.offset in self._finished:
            done = self._received.popleft()
            self._finished.discard(done.message.offset)
            out.append(done)
        return out

    def __len__(self) -> int:
        return len(self._received)
