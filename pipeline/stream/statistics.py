"""Stage 3 on Kafka: actions → held until watermarks pass them → statistics engine → stat topics.

A thin adapter over :class:`pipeline.stats.ordered.OrderedStats` (the same class replay drives).
It reads the internal stats-inputs topic: the actions of stages 1 and 2 (the same records as the
actions topic), one message per input of theirs carrying all the actions that input made (a
*bundle*), and stage 2's watermarks, each saying that every action at or before its time is
already on the topic. Inputs come in batches (:mod:`pipeline.stream.batches`); the statistic
records of a batch go through the worker's one producer and are awaited once. Actions are held
and applied only up to the smallest watermark of all stage-2 partitions, in event-time order, so
the engine sees replay's sequence whatever the timing of the stages (on the event clock nothing
is released by wall-clock idleness: the end of the input comes as stage 2's last watermark). One
engine per partition of the topic. Group and tenant statistics fan out from agent and place
actions, so they are complete only when it has **one partition** (the default); stages 1 and 2
scale out on their own topics' partitions.

Crash safety is a checkpoint: every :data:`CHECKPOINT_S` seconds (while handling a message, as
faust requires for table writes) the engine's changed state and the set of applied input offsets
are written to the ``statistics`` RocksDB table, and only then are the inputs applied since the
last checkpoint acknowledged. A bundle counts as applied once every action in it is; a checkpoint
taken while some of them still wait in the window leaves the bundle unapplied, and after a crash
its actions already applied are dropped as repeats by ``ActionID`` (the applied ids are part of the
checkpoint). After a crash the engine is restored from the table and redelivered inputs it already
holds are skipped, so statistics count every action exactly once; a notification may be sent again
(its topic is compacted, so readers see the latest value).

Clock: ``settings.clock`` is ``wall`` (``--clock wall``, the default; live: wall time, never behind
event time, ticked every second for resets and Time notifications; actions held for
:data:`WALL_FLUSH_S` without any input are applied anyway, so a stalled upstream cannot hold live
statistics back) or ``event`` (the event clock, as replay: for tests and backfills through Kafka).
On the wall clock, actions older than the current interval only count as late: the worker says so
once (log and ``/metrics``, :mod:`pipeline.telemetry`).
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import Any

import faust

from pipeline import telemetry
from pipeline.core.ordering import DEFAULT_WINDOW_MS, Watermarks
from pipeline.records.codec import MARKER, decode
from pipeline.records.errors import BadRecord
from pipeline.records.keys import stat_record_key
from pipeline.stats.ordered import OrderedStats
from pipeline.stream import delivery, late
from pipeline.stream.batches import BATCH_WITHIN_S, MAX_BATCH, by_partition, use_partition
from pipeline.stream.guard import guarded
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

CHECKPOINT_S = 2.0
#: A checkpoint groups its entries into table values of about this size (well below a Kafka message).
BUCKET_BYTES = 128 * 1024
#: An entry longer than this (a minute of applied ActionIDs at a high rate, a large meta) is cut into
#: parts, and buckets are split further until each is at most :data:`MAX_BUCKET_BYTES`: a changelog
#: record must stay under the broker's message limit (1 MB by default) whatever the load.
PART_BYTES = 128 * 1024
MAX_BUCKET_BYTES = 640 * 1024
WALL_FLUSH_S = 2.0


SPACES = ("A", "B")


class _Input:
    """One stats-inputs message in flight: applied once ``left`` of its actions are applied."""

    __slots__ = ("offset", "event", "left")

    def __init__(self, offset: int, event: Any, left: int = 1) -> None:
        self.offset, self.event, self.left = offset, event, left


class _PartitionStats:
    """The engine of one actions partition, its applied offsets and its unacknowledged inputs.

    Checkpoints alternate between two key spaces, A and B, and a marker key names the last complete
    one with the input offsets it includes. A checkpoint writes the buckets of entries that differ
    from what that space last held, waits until the changelog has them, and only then moves the marker: a
    crash mid-checkpoint leaves the marker on the previous complete space, whose inputs are then
    redelivered. (Many table keys cannot be written atomically; one marker key can.)
    """

    def __init__(self, number: int, config, sources: int = 1) -> None:
        self.number = number
        self.stats = OrderedStats(config, DEFAULT_WINDOW_MS)
        # Stage 2's watermarks, one per stage-2 partition; no idleness: a silent source holds back.
        self.marks = Watermarks(sources, window_ms=0, idle_s=float("inf"))
        self.low = -1  # every offset ≤ low is applied
        self.extra: set[int] = set()  # applied offsets above low
        self.unacked: list[Any] = []  # faust events applied since the last checkpoint
        self.acks = delivery.InOrderAcks()
        self.current: str | None = None  # the space the marker names
        self.written: dict[str, dict[str, str]] = {space: {} for space in SPACES}  # space → key → JSON
        self.last_checkpoint = time.monotonic()
        self.last_input = time.monotonic()
        self.last_event_time: int | None = None  # of the newest action pushed

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

    def applied_tags(self, tags: list[_Input]) -> None:
        """Count applied actions against their inputs; an input whose actions are all applied is
        marked applied and waits for the next checkpoint to be acknowledged."""
        for tag in tags:
            tag.left -= 1
            if tag.left == 0:
                self.mark(tag.offset)
                self.unacked.append(tag.event)

    def next_space(self) -> str:
        return "B" if self.current == "A" else "A"

    def entries(self, space: str) -> dict[str, str]:
        """The engine state as table entries of ``space`` (key → JSON), grouped into buckets.

        faust writes a table's changelog one record at a time (a few thousand a second at best), so
        a checkpoint writes a few buckets of about :data:`BUCKET_BYTES` rather than one entry per
        accumulator; a bucket is written again only when one of its entries changed.
        """
        state = self.stats.engine.export_state()
        fine = {"meta": json.dumps({"version": state["version"], "meta": state["meta"]})}
        for key, value in state["accumulators"].items():
            fine["acc|" + key] = json.dumps(value, separators=(",", ":"))
        for key, value in state["objects"].items():
            fine["obj|" + key] = json.dumps(value, separators=(",", ":"))
        chunks: dict[int, dict[str, int]] = {}
        # By second of event time: old chunks do not change, and a busy second's chunk stays small
        # (a minute at 500 events/s would be megabytes, rewritten at every checkpoint).
        for action_id, t in self.stats.applied_ids.items():
            chunks.setdefault(t // 1000, {})[action_id] = t
        for second, ids in chunks.items():
            fine[f"ids|{second}"] = json.dumps(ids, sort_keys=True, separators=(",", ":"))
        for key in [k for k, v in fine.items() if len(v) > PART_BYTES]:
            value = fine.pop(key)
            count = -(-len(value) // PART_BYTES)
            for n in range(count):
                fine[f"part|{n}|{count}|{key}"] = value[n * PART_BYTES : (n + 1) * PART_BYTES]
        size = sum(len(k) + len(v) for k, v in fine.items())
        buckets = 1
        while buckets * BUCKET_BYTES < size:
            buckets *= 2
        while True:
            groups: dict[int, dict[str, str]] = {}
            for key, value in fine.items():
                groups.setdefault(zlib.crc32(key.encode()) % buckets, {})[key] = value
            p = f"{self.number}|{space}|bucket|{buckets}|"
            out = {
                p + str(n): json.dumps(g, sort_keys=True, separators=(",", ":")) for n, g in groups.items()
            }
            if all(len(v) <= MAX_BUCKET_BYTES for v in out.values()) or len(groups) == len(fine):
                return out
            buckets *= 2  # an unlucky spread: more, smaller buckets

    def marker(self, space: str) -> str:
        marks = {str(source): t for source, t in self.marks.marks().items()}
        return json.dumps({"space": space, "low": self.low, "extra": sorted(self.extra), "marks": marks})

    def restore(self, entries: dict[str, str]) -> None:
        """Rebuild from the table: the space the marker names; remember what each space holds."""
        for space in SPACES:
            prefix = f"{self.number}|{space}|"
            self.written[space] = {k: v for k, v in entries.items() if k.startswith(prefix)}
        marker = entries.get(self.marker_key)
        if marker is None:
            return
        pos = json.loads(marker)
        p = f"{self.number}|{pos['space']}|"
        mine: dict[str, str] = {}  # entry → JSON, from buckets (and from one entry per key, as before)
        for key, value in self.written[pos["space"]].items():
            name = key[len(p) :]
            if name.startswith("bucket|"):
                mine.update(json.loads(value))
            else:
                mine[name] = value
        parts: dict[str, dict[int, str]] = {}  # entries cut into parts (PART_BYTES), put back together
        for name in [k for k in mine if k.startswith("part|")]:
            _, n, _count, key = name.split("|", 3)
            parts.setdefault(key, {})[int(n)] = mine.pop(name)
        for key, pieces in parts.items():
            mine[key] = "".join(pieces[n] for n in sorted(pieces))
        head = json.loads(mine["meta"])
        state = {"version": head["version"], "meta": head["meta"], "accumulators": {}, "objects": {}}
        for key, value in mine.items():
            kind, _, rest = key.partition("|")
            if kind == "acc":
                state["accumulators"][rest] = json.loads(value)
            elif kind == "obj":
                state["objects"][rest] = json.loads(value)
            elif kind == "ids":
                self.stats.applied_ids.update(json.loads(value))
        self.stats.engine.import_state(state)
        self.current, self.low, self.extra = pos["space"], pos["low"], set(pos["extra"])
        for source, t in pos.get("marks", {}).items():
            self.marks.update(int(source), t, 0.0)


def register(app: faust.App, topics, settings: Settings) -> None:
    config = settings.config
    counts = telemetry.STAGES["stage3"]
    if not config.statistics:
        return
    event_clock = settings.clock == "event"
    inputs = app.topic(topics.stats_inputs, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    stat_topics = {name: topics.stat(name) for name in config.stat_types}
    serialization = settings.serialization  # how records are framed (pipeline.records.serialization)
    table = delivery.raw_table(app, "statistics", settings.partitions_of(topics.stats_inputs))
    sources = settings.partitions_of(topics.agent_inputs) or 1  # stage 2 partitions announcing watermarks
    partitions: dict[int, _PartitionStats] = {}
    late_out = late.sink(app, topics, settings)  # <prefix>.late (pipeline.stream.late)

    def publish(out: Batch, records: list[dict]) -> None:
        counts["records"] += len(records)
        for r in records:
            topic = stat_topics[r["StatType"]]
            out.produce(topic, stat_record_key(r), serialization.encode("StatValue", r, topic))

    def partition(number: int) -> _PartitionStats:
        part = partitions.get(number)
        if part is None:
            part = partitions[number] = _PartitionStats(number, config, sources)
            late_out.watch(part.stats)
            prefix = f"{number}|".encode()
            part.restore({k.decode(): v.decode() for k, v in table.items() if k.startswith(prefix)})
        return part

    async def checkpoint(part: _PartitionStats, stream) -> None:
        """Write the engine's state (the current event must be of the partition), then ack."""
        space = part.next_space()
        entries = part.entries(space)
        held = part.written[space]
        for key, value in entries.items():
            if held.get(key) != value:
                table[key.encode()] = value.encode()
        for key in set(held) - set(entries):
            del table[key.encode()]
        part.written[space] = entries
        await app.producer.flush()  # the whole space is in the changelog before the marker moves
        table[part.marker_key.encode()] = part.marker(space).encode()
        part.current = space
        for finished in part.unacked:
            for done in part.acks.finished(finished):
                await stream.ack(done)
        part.unacked.clear()
        part.last_checkpoint = time.monotonic()

    def applied(out: Batch, part: _PartitionStats, tags: list[_Input], records: list[dict]) -> None:
        """Publish, then note the inputs whose actions are all applied (acked at the next checkpoint)."""
        if not event_clock:
            records = part.stats.advance(int(time.time() * 1000)) + records
        publish(out, records)
        part.applied_tags(tags)


    def handle(out: Batch, part: _PartitionStats, event) -> None:
        msg = event.message
        part.acks.received(event)
        if part.applied(msg.offset):
            counts["redelivered"] += 1
            part.unacked.append(event)  # acknowledged in order at the next checkpoint
            return
        value = bytes(msg.value or b"")
        if msg.key == b"watermark":
            mark = delivery.loads(value)
            part.marks.update(mark["From"], mark["Time"], 0.0)
            lowest = part.marks.lowest()
            tags, records = ([], []) if lowest is None else part.stats.release_to(lowest)
            applied(out, part, [*tags, _Input(msg.offset, event)], records)
            return
        try:
            if value[:2] == MARKER:  # one action record (as the actions topic carries them)
                actions = [decode(value, expected="ActionRecord")[1]]
            else:
                actions = delivery.loads(value)["Actions"]
        except (BadRecord, ValueError, KeyError, TypeError) as bad:  # not ours: never crash, never lose
            log.warning("stage 3: undecodable input at %s:%s: %s", msg.partition, msg.offset, bad)
            part.mark(msg.offset)
            part.unacked.append(event)
            return
        tag = _Input(msg.offset, event, len(actions))
        if not actions:
            applied(out, part, [], [])
            part.mark(msg.offset)
            part.unacked.append(event)
            return
        for action in actions:
            part.last_event_time = action["EventTime"]
            tags, records = part.stats.push(action, tag)
            applied(out, part, tags, records)

    @app.agent(inputs, name="stage3-statistics")
    async def statistics(stream):
        async for events in guarded(app, stream, "stage3", partitions, MAX_BATCH, BATCH_WITHIN_S):
            out = producer.batch()
            now = time.monotonic()
            for event in events:
                use_partition(event)
                part = partition(event.message.partition)
                part.last_input = now
                handle(out, part, event)
            await out.delivered()  # every record of the batch is on its topic before any input is acked
            now = time.monotonic()
            for number, event in by_partition(events).items():
                part = partitions.get(number)
                if part is not None and now - part.last_checkpoint >= CHECKPOINT_S:
                    use_partition(event)
                    await checkpoint(part, stream)

    @app.timer(interval=1.0)
    async def tick() -> None:
        """Wall clock only: resets and Time notifications; apply actions held through a quiet spell.

        Never on the event clock: there only watermarks release actions, as in replay.
        """
        counts["late"] = sum(part.stats.engine.late for part in partitions.values())
        if event_clock:
            return
        newest = max((p.last_event_time or 0 for p in partitions.values()), default=0)
        telemetry.CLOCK.observe(counts["late"], newest or None, int(time.time() * 1000))
        now = time.monotonic()
        out = producer.batch()
        flushed: list[tuple[_PartitionStats, list[_Input]]] = []
        for part in list(partitions.values()):
            records: list[dict] = []
            if len(part.stats.buffer) and now - part.last_input >= WALL_FLUSH_S:
                tags, records = part.stats.flush()
                flushed.append((part, tags))
            records += part.stats.advance(int(time.time() * 1000))
            if records:
                publish(out, records)
        await out.delivered()  # the records first: only then may a checkpoint ack their inputs
        for part, tags in flushed:
            if partitions.get(part.number) is part:
                part.applied_tags(tags)

    @app.on_partitions_assigned.connect
    async def forget_moved(sender, assigned, **kwargs) -> None:
        """Drop the state of partitions this worker no longer has.

        Not on revocation: faust revokes every partition at each rebalance and keeps reading the
        ones it gets back from where it was, so their waiting inputs would never come again.
        """
        mine = {tp.partition for tp in assigned if tp.topic == topics.stats_inputs}
        for number in [n for n in partitions if n not in mine]:
            partitions.pop(number, None)
