"""Stage 3 on Kafka: actions → held until watermarks pass them → statistics engine → stat topics.

A thin adapter over :class:`pipeline.stats.ordered.OrderedStats` (the same class replay drives). It
reads the internal stats-inputs topic: the actions of stages 1 and 2 (the same records as the
actions topic), gathered into few messages per batch of theirs (*bundles*:
:class:`pipeline.core.steps.StatsBundles`), and stage 2's watermarks, each saying that every action
at or before its time is already on the topic. Inputs come in batches
(:mod:`pipeline.stream.batches`); the statistic records of a batch go through the worker's one
producer and are awaited once. Actions are held and applied only up to the smallest watermark of all
stage-2 partitions, in event-time order, so the engine sees replay's sequence whatever the timing of
the stages (on the event clock nothing is released by wall-clock idleness: the end of the input
comes as stage 2's last watermark). One engine per partition of the topic. Group and tenant
statistics fan out from agent and place actions of every partition: with one partition (the default)
the engine computes them whole; with several, each partition's engine is a
:class:`~pipeline.stats.partials.PartialStats` that publishes the records of its own objects (every
action of an agent, place or queue is in one partition) and sends, after each batch's records, the
partial accumulators of group and tenant statistics the batch changed to ``<prefix>.stat-partials``
(one message per destination partition, chosen by :func:`~pipeline.records.keys.partition_of` of the
statistic's key), then the watermark it released to, to every partition of that topic. Stage 4
(:mod:`pipeline.stream.merge`) merges them.

Crash safety is a checkpoint: every :data:`~pipeline.stream.checkpoint.CHECKPOINT_S` seconds (5),
or more seldom when a checkpoint of a big state costs more (``COST_FACTOR`` there), while handling
a message (as faust requires for table writes), the engine's changed state and the set of applied
input offsets are written to the ``statistics`` RocksDB table, and only then are the inputs applied since the
last checkpoint acknowledged. A bundle counts as applied once every action in it is; a checkpoint
taken while some of them still wait in the window leaves the bundle unapplied, and after a crash
its actions already applied are dropped as repeats by ``ActionID`` (the applied ids are part of the
checkpoint). After a crash the engine is restored from the table and redelivered inputs it already
holds are skipped, so statistics count every action exactly once; a notification may be sent again
(its topic is compacted, so readers see the latest value), and so may a partial (stage 4 drops an
update older than the one it holds). The machinery is shared with stage 4
(:mod:`pipeline.stream.checkpoint`).

Clock: ``settings.clock`` is ``wall`` (``--clock wall``, the default; live: wall time, never behind
event time, ticked every second for resets and Time notifications; actions held for
:data:`WALL_FLUSH_S` without any input are applied anyway, so a stalled upstream cannot hold live
statistics back) or ``event`` (the event clock, as replay: for tests and backfills through Kafka).
On the wall clock, actions older than the current interval only count as late: the worker says so
once (log and ``/metrics``, :mod:`pipeline.telemetry`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import faust

from pipeline import telemetry
from pipeline.core.ordering import DEFAULT_WINDOW_MS, Watermarks
from pipeline.records.codec import MARKER, decode
from pipeline.records.errors import BadRecord
from pipeline.records.keys import partition_of
from pipeline.stats.ordered import OrderedStats, shared_strings
from pipeline.stats.rows import Row, message_key, stat_encoder
from pipeline.stream import delivery, late
from pipeline.stream.batches import BATCH_WITHIN_S, MAX_BATCH, by_partition, drop_payload, use_partition
from pipeline.stream.checkpoint import CHECKPOINT_S, Checkpoint, Input, save, saved_entries
from pipeline.stream.guard import guarded
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

WALL_FLUSH_S = 2.0
#: The stage's count of late contributions (``StatEngine.late``) sums every accumulator: O(state), a
#: million accumulators at 10,000 agents, 1.6 % of a busy worker's time when summed every second.
#: It is summed every LATE_EVERY_S, or after LATE_COST_FACTOR times what the last sum took if later.
LATE_EVERY_S = 1.0
LATE_COST_FACTOR = 50.0
#: The engine's export, cut into table entries per accumulator, per object and per second of
#: applied ActionIDs (:class:`~pipeline.stream.checkpoint.Checkpoint`).
SECTIONS = {"accumulators": "acc", "objects": "obj", "ids": "ids"}

_Input = Input  # the name the stage used before the checkpoint became generic
#: A batch's partials for one stat-partials partition go in messages of at most about this size
#: (a Kafka message is at most 1 MB by default; a busy batch changes thousands of accumulators).
PARTIALS_BYTES = 256 * 1024


def chunks(items: list[bytes], limit: int) -> list[list[bytes]]:
    """``items`` in order, cut into runs of at most ``limit`` bytes (an item larger is alone)."""
    out: list[list[bytes]] = [[]]
    size = 0
    for item in items:
        if out[-1] and size + len(item) + 1 > limit:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item) + 1
    return out if out[0] else []


class _Saved:
    """What a stage-3 checkpoint holds: the engine's state and the applied ActionIDs (by second of
    event time: old seconds do not change, and a busy second stays small — a minute at 500 events/s
    would be megabytes, rewritten at every checkpoint)."""

    def __init__(self, stats: OrderedStats) -> None:
        self.stats = stats

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        state = self.stats.engine.export_state(copy)
        chunks: dict[str, dict[str, int]] = {}
        for action_id, t in self.stats.applied_ids.items():
            chunks.setdefault(str(t // 1000), {})[action_id] = t
        state["ids"] = chunks
        return state

    def import_state(self, data: dict[str, Any]) -> None:
        data = dict(data)
        # By second of event time: near enough to the order they were applied in, the order in
        # which the oldest are forgotten (``OrderedStats.forget_oldest``).
        for _second, chunk in sorted(data.pop("ids", {}).items(), key=lambda item: int(item[0])):
            self.stats.applied_ids.update(chunk)
        self.stats.engine.import_state(data)


class _PartitionStats(Checkpoint):
    """The engine of one stats-inputs partition, its applied offsets and its unacknowledged inputs
    (checkpointed in the ``statistics`` table: :class:`~pipeline.stream.checkpoint.Checkpoint`).

    With several ``partitions`` of stats-inputs the engine is a
    :class:`~pipeline.stats.partials.PartialStats` of source ``number``: it returns the records of
    its own objects, and group and tenant statistics as partial accumulators for stage 4.
    """

    def __init__(self, number: int, config, sources: int = 1, partitions: int = 1) -> None:
        if partitions > 1:
            from pipeline.stats.partials import PartialStats

            self.stats: OrderedStats = PartialStats(
                config, source=number, partitions=partitions, window_ms=DEFAULT_WINDOW_MS
            )
        else:
            self.stats = OrderedStats(config, DEFAULT_WINDOW_MS)
        super().__init__(number, _Saved(self.stats), SECTIONS)
        self.partitions = partitions
        # Stage 2's watermarks, one per stage-2 partition; no idleness: a silent source holds back.
        self.marks = Watermarks(sources, window_ms=0, idle_s=float("inf"))
        self.last_input = time.monotonic()
        self.last_event_time: int | None = None  # of the newest action pushed
        self.released: int | None = None  # every action at or before it is applied (partial mode)
        self.mark_sent: int | None = None  # the last watermark sent to stage 4

    def release(self, watermark: int, tags: list) -> Iterator[list[Row]]:
        """Apply the held actions up to ``watermark`` (stage 2's lowest), a list of records per
        clock move and per action as it goes; the tags of the applied actions go to ``tags``.

        With several partitions the engine's clock follows the watermarks, and one watermark can
        jump over many instants of the checks' grid (stage 2 announces one per batch: minutes of a
        backlog). The engine gives the same records for one jump as for a clock stopping at every
        instant (checks evaluated at their instant, Sliding values at each instant a bucket left:
        ``docs/statistics-engine.md``), so a partition's records depend on its own actions and the
        grid, not on batch sizes.
        """
        return self.stats.iter_release_rows(watermark, tags)

    def marker(self, space: str, extra: dict | None = None) -> str:
        marks = {str(source): t for source, t in self.marks.marks().items()}
        return super().marker(space, {"marks": marks, **(extra or {})})

    def restore(self, entries: dict[str, str]) -> dict | None:
        pos = super().restore(entries)
        for source, t in (pos or {}).get("marks", {}).items():
            self.marks.update(int(source), t, 0.0)
        return pos


def register(app: faust.App, topics, settings: Settings) -> None:
    config = settings.config
    counts = telemetry.STAGES["stage3"]
    if not config.statistics:
        return
    event_clock = settings.clock == "event"
    inputs = app.topic(topics.stats_inputs, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    stat_topics = {name: topics.stat(name) for name in config.stat_types}
    # How records are framed (pipeline.records.serialization); a row's message is written from the
    # row itself, without its record dict (pipeline.stats.rows.single_object).
    encode_row = stat_encoder(settings.serialization)
    table = delivery.raw_table(app, "statistics", settings.partitions_of(topics.stats_inputs))
    sources = settings.partitions_of(topics.agent_inputs) or 1  # stage 2 partitions announcing watermarks
    partitions: dict[int, _PartitionStats] = {}
    late_out = late.sink(app, topics, settings)  # <prefix>.late (pipeline.stream.late)
    # --- partitioned statistics: partials to stage 4 (pipeline.stream.merge) ----------------------
    stats_partitions = settings.partitions_of(topics.stats_inputs) or 1
    partial = stats_partitions > 1
    merge_partitions = settings.partitions_of(topics.stat_partials) or 1

    def send_partials(out: Batch, part: _PartitionStats) -> None:
        """After the records of a batch: the partials it changed, one message per stat-partials
        partition, then (when it moved) the watermark stage 3 released to, to every partition of
        it — produced after the partials by the same idempotent producer, so never ahead of them."""
        if not partial:
            return
        grouped: dict[int, list[bytes]] = {}
        for update in part.stats.take_partials():  # type: ignore[attr-defined]
            number = partition_of(update["Key"], merge_partitions)
            grouped.setdefault(number, []).append(delivery.dumps(update))
        head = b'{"Kind":"partials","From":%d,"Updates":[' % part.number
        for number, updates in grouped.items():
            for chunk in chunks(updates, PARTIALS_BYTES):
                value = head + b",".join(chunk) + b"]}"
                out.produce(topics.stat_partials, b"partials", value, partition=number)
        counts["partials"] += sum(len(u) for u in grouped.values())
        mark = part.released
        if mark is not None and (part.mark_sent is None or mark > part.mark_sent):
            value = delivery.dumps({"Kind": "watermark", "From": part.number, "Time": mark})
            for number in range(merge_partitions):
                out.produce(topics.stat_partials, b"watermark", value, partition=number)
            part.mark_sent = mark

    # --- end of partitioned statistics ------------------------------------------------------------

    def publish(out: Batch, rows: list[Row]) -> None:
        counts["records"] += len(rows)
        for row in rows:
            topic = stat_topics[row[0].stat_type]
            out.produce(topic, message_key(row), encode_row(row, topic))

    def partition(number: int) -> _PartitionStats:
        part = partitions.get(number)
        if part is None:
            part = partitions[number] = _PartitionStats(number, config, sources, stats_partitions)
            late_out.watch(part.stats)
            part.restore(saved_entries(table, number))
        return part

    def applied(out: Batch, part: _PartitionStats, tags: list[Input], records: Iterable[list[Row]],
                done: Input | None = None) -> None:
        """Publish the records as the engine makes them, then (wall clock) those of the clock's
        move to now; then note the inputs whose actions are all applied (``tags``, filled as
        ``records`` is read, then ``done``), acknowledged at the next checkpoint.

        Published list by list: a watermark can release a whole instant (the shift's end at
        10,000 agents: 148,000 actions, about 700,000 records), and those held as one list made
        most of the worker's peak memory. Still one batch, awaited once before any input is acked.
        """
        for rows in records:
            publish(out, rows)
        if not event_clock:
            publish(out, part.stats.advance_rows(int(time.time() * 1000)))
        part.applied_tags(tags if done is None else [*tags, done])

    def handle(out: Batch, part: _PartitionStats, event) -> None:
        msg = event.message
        value = drop_payload(event)  # the event is kept until acknowledged; its bytes are not
        part.acks.received(event)
        if part.applied(msg.offset):
            counts["redelivered"] += 1
            part.unacked.append(event)  # acknowledged in order at the next checkpoint
            return
        if msg.key == b"watermark":
            mark = delivery.loads(value)
            part.marks.update(mark["From"], mark["Time"], 0.0)
            lowest = part.marks.lowest()
            tags: list[Input] = []
            applied(out, part, tags, () if lowest is None else part.release(lowest, tags),
                    Input(msg.offset, event))
            if lowest is not None:
                part.released = lowest if part.released is None else max(part.released, lowest)
            return
        try:
            if value[:2] == MARKER:  # one action record (as the actions topic carries them)
                actions = [decode(value, expected="ActionRecord")[1]]
            else:
                actions = [shared_strings(action) for action in delivery.loads(value)["Actions"]]
        except (BadRecord, ValueError, KeyError, TypeError) as bad:  # not ours: never crash, never lose
            log.warning("stage 3: undecodable input at %s:%s: %s", msg.partition, msg.offset, bad)
            part.done(event)
            return
        tag = Input(msg.offset, event, len(actions))
        if not actions:
            applied(out, part, [], ())
            part.done(event)
            return
        for action in actions:
            part.last_event_time = action["EventTime"]
            tags, records = part.stats.push_rows(action, tag)
            applied(out, part, tags, (records,))

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
            for number in by_partition(events):
                part = partitions.get(number)
                if part is not None:
                    send_partials(out, part)
            await out.delivered()  # every record of the batch is on its topic before any input is acked
            now = time.monotonic()
            for number, event in by_partition(events).items():
                part = partitions.get(number)
                if part is not None and part.due(now, CHECKPOINT_S):
                    use_partition(event)
                    await save(app, table, part, stream)

    late_due = [0.0]  # when ``tick`` next sums the late contributions (LATE_EVERY_S)

    @app.timer(interval=1.0)
    async def tick() -> None:
        """Wall clock only: resets and Time notifications; apply actions held through a quiet spell.

        Never on the event clock: there only watermarks release actions, as in replay.
        """
        now = time.monotonic()
        if now >= late_due[0]:
            counts["late"] = sum(part.stats.engine.late for part in partitions.values())
            late_due[0] = now + max(LATE_EVERY_S, LATE_COST_FACTOR * (time.monotonic() - now))
        if event_clock:
            return
        newest = max((p.last_event_time or 0 for p in partitions.values()), default=0)
        telemetry.CLOCK.observe(counts["late"], newest or None, int(time.time() * 1000))
        now = time.monotonic()
        out = producer.batch()
        flushed: list[tuple[_PartitionStats, list[Input]]] = []
        for part in list(partitions.values()):
            if part.saving:  # a checkpoint is reading its state (``checkpoint.save``): next tick
                continue
            if len(part.stats.buffer) and now - part.last_input >= WALL_FLUSH_S:
                tags: list[Input] = []
                for rows in part.stats.iter_flush_rows(tags):  # published as applied (see ``applied``)
                    publish(out, rows)
                flushed.append((part, tags))
                if part.last_event_time is not None:  # everything pushed so far is applied
                    part.released = max(part.released or part.last_event_time, part.last_event_time)
            publish(out, part.stats.advance_rows(int(time.time() * 1000)))
            send_partials(out, part)
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
