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
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import orjson

from pipeline.stream import delivery

#: A checkpoint groups its entries into table values of at most about this size (well below a
#: Kafka message), and on average :data:`CHUNK_KEYS` entries (``Checkpoint.buckets``).
BUCKET_BYTES = 128 * 1024
CHUNK_KEYS = 256
#: An entry longer than this (a minute of applied ActionIDs at a high rate, a large meta) is cut into
#: parts, and buckets are split further until each is at most :data:`MAX_BUCKET_BYTES`: a changelog
#: record must stay under the broker's message limit (1 MB by default) whatever the load.
PART_BYTES = 128 * 1024
MAX_BUCKET_BYTES = 640 * 1024

SPACES = ("A", "B")

#: A checkpoint waits for the changelog after about this many bytes of buckets written. faust's
#: producer holds a table's changelog records until they are sent, and nothing is sent while the
#: stage computes: the buckets of one checkpoint of 10,000 agents (about 500 MB of text) were all
#: held at once, the worker's peak memory. While it waits, the partition's other users (the
#: stage's timer) leave its state alone (``Checkpoint.saving``).
FLUSH_BYTES = 16 * 1024 * 1024

#: Seconds between checkpoints of a stage (3 and 4) at least. A crash redelivers the inputs since the
#: last one (applied at most once: see the module docstring), so this bounds the work a restart
#: redoes, not the latency of any output. Every checkpoint exports and encodes the whole state: at
#: 100 agents, one every 2 s cost about 6 % of the worker's time (py-spy); every 5 s, three
#: alternated pairs of runs of the bench's worker row took 16.7/16.6/16.0 s of CPU at 2 s and
#: 15.3/14.9/13.9 s at 5 s. (Kafka Streams commits every 30 s by default.)
CHECKPOINT_S = 5.0

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
        # A checkpoint is reading the state (it waits for the changelog between buckets: ``save``);
        # the stage's timer must not change the state meanwhile.
        self.saving = False

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
        """The state as table entries of ``space`` (key → JSON), all at once (:meth:`buckets`)."""
        return dict(self.buckets(space))

    def buckets(self, space: str) -> Iterator[tuple[str, str]]:
        """The state as table entries of ``space`` (key, JSON text), one bucket at a time.

        faust writes a table's changelog one record at a time (a few thousand a second at best), so
        a checkpoint writes buckets of up to about :data:`BUCKET_BYTES` rather than one entry per
        accumulator; a bucket is written again only when one of its entries changed.

        A bucket is a run of consecutive entries in the state's own order (each section's), cut
        after an entry whose key hashes to 0 modulo :data:`CHUNK_KEYS`, or once it holds
        :data:`BUCKET_BYTES`: the cuts depend on the keys, so a new entry or a changed one changes
        its own bucket, not the ones after it, and a bucket is named by its first key.

        Memory: each entry is encoded as it is exported (the engine's ``AccumulatorsView``), and
        each bucket is handed on as soon as it is made, so a checkpoint holds one bucket of JSON
        text at a time. Made all at once (every entry, then buckets grouped by a hash of the key),
        the text of the whole state was the peak of the worker's memory at scale: about 500 MB of
        JSON for the million accumulators of 10,000 agents.
        """
        state = self.state.export_state(copy=False)
        meta = {k: v for k, v in state.items() if not self._split(k, v)}
        sections = [(short, state[name]) for name, short in self.sections.items()
                    if self._split(name, state.get(name))]
        del state
        prefix = f"{self.number}|{space}|bucket|"
        chunk: dict[str, str] = {}
        size = 0
        for name, text in self._fine(meta, sections):
            chunk[name] = text
            size += len(name) + len(text)
            if size >= BUCKET_BYTES or zlib.crc32(name.encode()) % CHUNK_KEYS == 0:
                yield from _bucketed(prefix, chunk)
                chunk, size = {}, 0
        if chunk:
            yield from _bucketed(prefix, chunk)

    @staticmethod
    def _fine(meta: dict[str, Any], sections: list[tuple[str, Mapping]]) -> Iterator[tuple[str, str]]:
        """Every entry (name, JSON text), in order: ``meta``, then each section's items; an entry
        longer than :data:`PART_BYTES` (``meta`` too: stage 4's held updates) comes as parts
        (``part|n|count|name``)."""
        yield from _parts("meta", _json(meta))
        for short, value in sections:
            for key, item in value.items():
                yield from _parts(f"{short}|{key}", _json(item))

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


def _parts(name: str, text: str) -> Iterator[tuple[str, str]]:
    """The entry, or its parts of at most :data:`PART_BYTES` when it is longer."""
    if len(text) <= PART_BYTES:
        yield name, text
        return
    count = -(-len(text) // PART_BYTES)
    for n in range(count):
        yield f"part|{n}|{count}|{name}", text[n * PART_BYTES : (n + 1) * PART_BYTES]


def _bucketed(prefix: str, chunk: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``chunk``'s entries as one bucket (key, text) named by its first entry, or as halves when
    its text is over :data:`MAX_BUCKET_BYTES` (a changelog record must fit a Kafka message)."""
    text = _json(chunk, sort=True)
    if len(text) <= MAX_BUCKET_BYTES or len(chunk) == 1:
        first = next(iter(chunk))
        yield prefix + hashlib.blake2b(first.encode(), digest_size=8).hexdigest(), text
        return
    items = list(chunk.items())
    half = len(items) // 2
    yield from _bucketed(prefix, dict(items[:half]))
    yield from _bucketed(prefix, dict(items[half:]))


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
    held = part.written[space]
    digests: dict[str, bytes] = {}
    waited = 0.0
    pending = 0  # bytes written to the changelog since the last flush
    part.saving = True  # the state must not change while its buckets are read (see ``saving``)
    try:
        for key, value in part.buckets(space):  # each bucket's text is let go once written
            digest = digests[key] = _digest(value)
            if held.get(key) != digest:
                data = value.encode()
                table[key.encode()] = data
                pending += len(data)
                if pending >= FLUSH_BYTES:
                    flushed = time.monotonic()
                    await app.producer.flush()
                    waited += time.monotonic() - flushed
                    pending = 0
    finally:
        part.saving = False
    for key in set(held) - set(digests):
        del table[key.encode()]
    part.written[space] = digests
    part.last_cost = time.monotonic() - started - waited  # the CPU part: flushes only wait
    await app.producer.flush()  # the whole space is in the changelog before the marker moves
    table[part.marker_key.encode()] = part.marker(space, extra).encode()
    part.current = space
    for finished in part.unacked:
        for done in part.acks.finished(finished):
            await stream.ack(done)
    part.unacked.clear()
    part.last_checkpoint = time.monotonic()
