"""What the stages share to handle inputs in batches: table access per partition, write-behind state.

faust decides which RocksDB database (and changelog partition) a table read or write goes to from
the event being handled (``faust.streams.current_event``). A batch mixes partitions, so a stage
names the event — any event of the right partition — before it touches the table
(:func:`use_partition`).

:class:`WriteBehind` keeps each partition's states as Python objects: a state is read from the
table (and decoded) once, changed in memory by every input of the batch, and written (encoded)
once per batch, after the batch's outputs are acknowledged and before its inputs are — as Kafka
Streams' record cache coalesces writes between commits. faust flushes the changelogs before it
commits the input offsets, so the crash proof of :mod:`pipeline.stream.delivery` holds per batch:
outputs acknowledged → state written → inputs acknowledged. At every assignment the cache is
dropped (:meth:`WriteBehind.forget_all`, from :mod:`pipeline.stream.guard`'s reopening) and read
again from the table, since another worker may have written it meanwhile; a batch in flight then
writes nothing of it and acknowledges none of its inputs, which come again.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from faust.streams import _current_event

from pipeline.core.steps import write_order
from pipeline.stream import delivery

#: Inputs handled as one batch (one delivery wait, one state write per key), and how long a batch
#: waits to fill (a quiet input is still handled within this time).
MAX_BATCH = 1000
BATCH_WITHIN_S = 0.05


def use_partition(event: Any) -> None:
    """Make ``event`` the one faust reads and writes tables for (its partition's database)."""
    _current_event.set(weakref.ref(event))


def drop_payload(event: Any) -> bytes:
    """The input's bytes, let go of by the event: stages 3 and 4 keep an input's event until a
    checkpoint acknowledges it (and stage 3 until a watermark releases its actions), where only its
    offset is needed. At the shift's end of 10,000 agents, the 58,000 events held kept 118 MB of
    stats-input bundles alive (an object census of the worker at 1,019 MB)."""
    message = event.message
    value = bytes(message.value or b"")
    event.value = message.value = None
    return value


def by_partition(events: Iterable[Any]) -> dict[int, Any]:
    """One event of each partition in ``events`` (the last one)."""
    return {event.message.partition: event for event in events}


def dumps(obj: Any) -> bytes:
    return delivery.dumps(obj)


class WriteBehind:
    """A faust table of JSON values (raw bytes underneath), cached per partition, written per batch."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._states: dict[int, dict[bytes, Any]] = {}
        self._dirty: dict[int, set[bytes]] = {}

    def get(self, partition: int, key: bytes) -> Any:
        """The state of ``key`` (None if none); the current event must be of ``partition``."""
        states = self._states.get(partition)
        if states is None:
            states = self._states[partition] = {}
        try:
            return states[key]
        except KeyError:
            raw = self.table.get(key)
            state = states[key] = None if raw is None else delivery.loads(raw)
            return state

    def put(self, partition: int, key: bytes, state: Any) -> None:
        self._states.setdefault(partition, {})[key] = state
        self._dirty.setdefault(partition, set()).add(key)

    def delete(self, partition: int, key: bytes) -> None:
        self.put(partition, key, None)

    def dirty(self) -> int:
        return sum(len(keys) for keys in self._dirty.values())

    def write(self, events: dict[int, Any]) -> int:
        """Write every changed key once (encoded once), each with an event of its partition.

        ``events`` maps partition → an event of it handled in this batch. Returns the keys written.
        """
        written = 0
        for partition, keys in self._dirty.items():
            if not keys:
                continue
            event = events.get(partition)
            states = self._states.get(partition)
            if states is None:  # not ours any more: the table is not ours to write
                keys.clear()
                continue
            if event is None:  # no event of it at hand: written with the partition's next batch
                continue
            use_partition(event)
            for key in write_order(keys):  # marks after the states they cover
                state = states[key]
                if state is None:
                    del self.table[key]
                    states.pop(key, None)  # read again (as absent) if it is ever needed
                else:
                    self.table[key] = dumps(state)
                written += 1
            keys.clear()
        return written

    def keep_only(self, partitions: set[int]) -> None:
        """Forget every partition not in ``partitions`` (after a rebalance)."""
        for number in [n for n in self._states if n not in partitions]:
            del self._states[number]
        for number in [n for n in self._dirty if n not in partitions]:
            del self._dirty[number]

    def forget_all(self) -> None:
        self._states.clear()
        self._dirty.clear()
