"""Checkpoints of a stage whose state is one object per input partition (stages 3 and 4).

Stages 3 (statistics) and 4 (the merge of partial statistics) keep, per input partition, an object
whose whole state is exported and imported as JSON (``export_state()``/``import_state()``:
:class:`~pipeline.stats.ordered.OrderedStats`'s engine, :class:`~pipeline.stats.partials.MergeStats`).
They cannot write it to their RocksDB table on every input (a state is megabytes), so they write
it every few seconds — a *checkpoint* — and acknowledge the inputs applied since the last one only
after it is in the table's changelog. A crash redelivers the inputs after the last checkpoint, and
the restored state tells which of them it already holds (the applied input offsets are part of it).

:class:`Checkpoint` is that machinery, generic over the state object: the applied offsets, the
inputs waiting for a checkpoint to be acknowledged, and the table entries. Checkpoints alternate
between two key spaces, A and B, and a marker key names the last complete one with the input
offsets it includes. A checkpoint writes the buckets of entries that differ from what that space
last held, waits until the changelog has them, and only then moves the marker: a crash
mid-checkpoint leaves the marker on the previous complete space, whose inputs are then redelivered.
(Many table keys cannot be written atomically; one marker key can.)
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from pipeline.stream import delivery

#: A checkpoint groups its entries into table values of about this size (well below a Kafka message).
BUCKET_BYTES = 128 * 1024
#: An entry longer than this (a minute of applied ActionIDs at a high rate, a large meta) is cut into
#: parts, and buckets are split further until each is at most :data:`MAX_BUCKET_BYTES`: a changelog
#: record must stay under the broker's message limit (1 MB by default) whatever the load.
PART_BYTES = 128 * 1024
MAX_BUCKET_BYTES = 640 * 1024

SPACES = ("A", "B")

#: A checkpoint exports and encodes the whole state, so its cost grows with the state (thousands of
#: accumulators at scale). The next one is due only after this many times the last one's cost, so
#: checkpoints take at most about 1/(1+COST_FACTOR) of the stage's time; inputs wait that much
#: longer to be acknowledged (a crash redelivers more, still exactly once in the statistics).
COST_FACTOR = 8.0


class Checkpointable(Protocol):
    """What a checkpoint saves: the whole state as JSON-compatible data, and back."""

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        """``copy=False``: the state may share the object's own data (it is encoded at once)."""
        ...

    def import_state(self, data: dict[str, Any]) -> None: ...


class Input:
    """One input message in flight: applied once ``left`` of its items (actions, updates) are."""

    __slots__ = ("offset", "event", "left")

    def __init__(self, offset: int, event: Any, left: int = 1) -> None:
        self.offset, self.event, self.left = offset, event, left


class Checkpoint:
    """The state of one input partition, its applied offsets and its unacknowledged inputs.

    ``sections`` names the top-level entries of the state's export that are mappings written one
    table entry per key (``{"accumulators": "acc"}``: ``acc|<key>``), so that a checkpoint
    rewrites only the buckets whose entries changed; every other top-level entry goes into one
    ``meta`` entry.
    """

    def __init__(self, number: int, state: Checkpointable, sections: Mapping[str, str]) -> None:
        self.number = number
        self.state = state
        self.sections = dict(sections)
        self.low = -1  # every offset ≤ low is applied
        self.extra: set[int] = set()  # applied offsets above low
        self.unacked: list[Any] = []  # faust events applied since the last checkpoint
        self.acks = delivery.InOrderAcks()
        self.current: str | None = None  # the space the marker names
        # space → table key → digest of the value written there (``_digest``): what a checkpoint
        # compares with to write only changed buckets. Digests, not the values: two spaces of
        # values held the state's JSON twice over (220 MB at 2,000 agents).
        self.written: dict[str, dict[str, bytes]] = {space: {} for space in SPACES}
        self.last_checkpoint = time.monotonic()
        self.last_cost = 0.0  # seconds the last checkpoint took to export, encode and write

    def due(self, now: float, every_s: float) -> bool:
        """Is a checkpoint due at ``now``: ``every_s`` since the last one, and at least
        :data:`COST_FACTOR` times what the last one cost?"""
        return now - self.last_checkpoint >= max(every_s, COST_FACTOR * self.last_cost)

    @property
    def marker_key(self) -> str:
        return f"{self.number}|current"

    def applied(self, offset: int) -> bool:
        return offset <= self.low or offset in self.extra

    def mark(self, offset: int) -> None:
        self.extra.add(offset)
        while self.low + 1 in self.extra:
            self.low += 1
            self.extra.discard(self.low)

    def applied_tags(self, tags: list[Input]) -> None:
        """Count applied items against their inputs; an input whose items are all applied is
        marked applied and waits for the next checkpoint to be acknowledged. A None tag is an item
        restored from a checkpoint (held there): its input is acknowledged already, or is
        redelivered and dropped as a repeat."""
        for tag in tags:
            if tag is None:
                continue
            tag.left -= 1
            if tag.left == 0:
                self.mark(tag.offset)
                self.unacked.append(tag.event)

    def done(self, event: Any) -> None:
        """An input with nothing to apply (undecodable, empty, a redelivery): acknowledged in order
        at the next checkpoint."""
        self.mark(event.message.offset)
        self.unacked.append(event)

    def next_space(self) -> str:
        return "B" if self.current == "A" else "A"

    def entries(self, space: str) -> dict[str, str]:
        """The state as table entries of ``space`` (key → JSON), grouped into buckets.

        faust writes a table's changelog one record at a time (a few thousand a second at best), so
        a checkpoint writes a few buckets of about :data:`BUCKET_BYTES` rather than one entry per
        accumulator; a bucket is written again only when one of its entries changed.

        Memory: each entry is encoded as it is exported (the engine's ``AccumulatorsView``), and
        each bucket's text is made as its entries leave: the state is held about once as JSON text,
        never as the whole tree of its data as well.
        """
        state = self.state.export_state(copy=False)
        fine = {"meta": _json({k: v for k, v in state.items() if not self._split(k, v)})}
        for name, short in self.sections.items():
            value = state.get(name)
            if isinstance(value, Mapping):
                for key, item in value.items():
                    fine[f"{short}|{key}"] = _json(item)
        del state
        for key in [k for k, v in fine.items() if len(v) > PART_BYTES]:
            value = fine.pop(key)
            count = -(-len(value) // PART_BYTES)
            for n in range(count):
                fine[f"part|{n}|{count}|{key}"] = value[n * PART_BYTES : (n + 1) * PART_BYTES]
        size = sum(len(k) + len(v) for k, v in fine.items())
        buckets = 1
        while buckets * BUCKET_BYTES < size:
            buckets *= 2
        count = len(fine)
        while True:
            groups: dict[int, dict[str, str]] = {}
            for key, value in fine.items():
                groups.setdefault(zlib.crc32(key.encode()) % buckets, {})[key] = value
            del fine  # the groups hold the entries now, and each group goes once its text is made
            p = f"{self.number}|{space}|bucket|{buckets}|"
            out: dict[str, str] = {}
            for n in list(groups):
                out[p + str(n)] = _json(groups.pop(n), sort=True)
            if all(len(v) <= MAX_BUCKET_BYTES for v in out.values()) or len(out) == count:
                return out
            fine = {}  # an unlucky spread: more, smaller buckets, from the entries again
            for text in out.values():
                fine.update(orjson.loads(text))
            buckets *= 2

    def _split(self, name: str, value: Any) -> bool:
        return name in self.sections and isinstance(value, Mapping)

    def marker(self, space: str, extra: Mapping[str, Any] | None = None) -> str:
        """The marker naming ``space`` complete, with the applied offsets (and the stage's ``extra``)."""
        return json.dumps(
            {"space": space, "low": self.low, "extra": sorted(self.extra), **dict(extra or {})}
        )

    def restore(self, entries: dict[str, str]) -> dict[str, Any] | None:
        """Rebuild from the table: the space the marker names; remember what each space holds.

        Returns the marker (with the stage's extra fields), or None when there is no checkpoint.
        """
        for space in SPACES:
            prefix = f"{self.number}|{space}|"
            self.written[space] = {k: _digest(v) for k, v in entries.items() if k.startswith(prefix)}
        marker = entries.get(self.marker_key)
        if marker is None:
            return None
        pos = json.loads(marker)
        p = f"{self.number}|{pos['space']}|"
        mine: dict[str, str] = {}  # entry → JSON, from buckets (and from one entry per key, as before)
        for key, value in entries.items():
            if not key.startswith(p):
                continue
            name = key[len(p) :]
            if name.startswith("bucket|"):
                mine.update(orjson.loads(value))
            else:
                mine[name] = value
        parts: dict[str, dict[int, str]] = {}  # entries cut into parts (PART_BYTES), put back together
        for name in [k for k in mine if k.startswith("part|")]:
            _, n, _count, key = name.split("|", 3)
            parts.setdefault(key, {})[int(n)] = mine.pop(name)
        for key, pieces in parts.items():
            mine[key] = "".join(pieces[n] for n in sorted(pieces))
        state: dict[str, Any] = orjson.loads(mine.pop("meta"))
        by_short = {short: name for name, short in self.sections.items()}
        texts: dict[str, dict[str, str]] = {name: {} for name in self.sections}
        for key, value in mine.items():
            short, _, rest = key.partition("|")
            if short in by_short and rest:
                texts[by_short[short]][rest] = value
        del mine
        for name, held in texts.items():
            state[name] = Decoded(held)
        self.state.import_state(state)
        self.current, self.low, self.extra = pos["space"], pos["low"], set(pos["extra"])
        return pos


class Decoded(Mapping):
    """A restored section (key → JSON text), each value decoded as it is read: the state's
    ``import_state`` builds its own objects from one entry at a time, where the whole section
    decoded at once was a tree several times the size of its text (a restart's peak memory).
    Each read decodes afresh, so a value read is the reader's own."""

    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self):
        return iter(self._texts)

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self._texts[key])

    def items(self):  # type: ignore[override]
        """(key, decoded value), one at a time."""
        return ((key, orjson.loads(text)) for key, text in self._texts.items())

    def values(self):  # type: ignore[override]
        return (orjson.loads(text) for text in self._texts.values())


def _digest(text: str) -> bytes:
    """What :attr:`Checkpoint.written` keeps of a written value: enough to tell a changed one."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _json(value: Any, sort: bool = False) -> str:
    """Compact JSON text (orjson: the checkpoint encodes the whole state, the stage's largest cost
    in the profile with the ``json`` module). ``sort``: the same entries give the same text, so an
    unchanged bucket is not written again."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort else 0)
    return orjson.dumps(value, option=option).decode()


def saved_entries(table: Any, number: int) -> dict[str, str]:
    """Every entry of ``number``'s checkpoints in a raw faust table (the current event must be of that
    partition)."""
    prefix = f"{number}|".encode()
    return {k.decode(): v.decode() for k, v in table.items() if k.startswith(prefix)}


async def save(
    app: Any, table: Any, part: Checkpoint, stream: Any, extra: Mapping[str, Any] | None = None
) -> None:
    """Write ``part``'s state to ``table`` (the current event must be of the partition), move the
    marker once the changelog has it, then acknowledge the inputs it covers, in offset order."""
    started = time.monotonic()
    space = part.next_space()
    entries = part.entries(space)
    held = part.written[space]
    digests: dict[str, bytes] = {}
    for key in list(entries):
        value = entries.pop(key)  # each bucket's text is let go once written
        digest = digests[key] = _digest(value)
        if held.get(key) != digest:
            table[key.encode()] = value.encode()
    for key in set(held) - set(digests):
        del table[key.encode()]
    part.written[space] = digests
    part.last_cost = time.monotonic() - started  # the CPU part: the flush below only waits
    await app.producer.flush()  # the whole space is in the changelog before the marker moves
    table[part.marker_key.encode()] = part.marker(space, extra).encode()
    part.current = space
    for finished in part.unacked:
        for done in part.acks.finished(finished):
            await stream.ack(done)
    part.unacked.clear()
    part.last_checkpoint = time.monotonic()
