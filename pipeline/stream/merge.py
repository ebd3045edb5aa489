"""Stage 4 on Kafka: partial statistics of stage 3's partitions → merged → stat topics.

Used when the stats-inputs topic has several partitions (README, "Scaling out"). Each stage-3
partition computes the statistics of its own objects (agents, places, queues: all their actions
are in that partition) and, for group and tenant statistics, which gather actions from every
partition, a *partial* accumulator it sends to the internal ``<prefix>.stat-partials`` topic,
keyed (and explicitly partitioned, :func:`~pipeline.records.keys.partition_of`) by statistic and
object, so one tenant's statistics spread over the partitions: no hot key. After a batch's partials
each stage-3 partition sends a watermark to every stat-partials partition: every partial as of that
time is sent. This stage is a thin adapter over :class:`~pipeline.stats.partials.MergeStats`, one
per stat-partials partition with ``sources`` = the stats-inputs partitions: it holds the updates
until every source's watermark has passed them, merges them in an order fixed by the data, and
notifies as the engine does; the records go to the stat topics as stage 3's do.

Crash safety is stage 3's checkpoint (:mod:`pipeline.stream.checkpoint`): every ``CHECKPOINT_S``
seconds (more seldom for a big state: ``COST_FACTOR`` there) the merge state and the applied input
offsets are written to the ``merge`` RocksDB table, and only then are the inputs applied since the
last checkpoint acknowledged. An input of updates counts as applied once every update in it is
released. After a crash the state is restored and redelivered inputs it holds are skipped; a stage-3
partition that restarted sends partials again, and :class:`MergeStats` drops an update older than
the one it holds.

Clock: on the event clock only watermarks move it (as replay); on the wall clock a 1 s timer
advances it (resets, Time notifications) and updates held for :data:`WALL_FLUSH_S` without input
are merged anyway, as stage 3 does with actions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from pipeline import telemetry
from pipeline.records.keys import stat_record_key
from pipeline.stream import delivery
from pipeline.stream.batches import BATCH_WITHIN_S, MAX_BATCH, by_partition, drop_payload, use_partition
from pipeline.stream.checkpoint import CHECKPOINT_S, Checkpoint, Input, save, saved_entries
from pipeline.stream.guard import guarded
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

WALL_FLUSH_S = 2.0
#: The merge state's large mappings, one table entry per key (the rest is one ``meta`` entry).
SECTIONS = {"accumulators": "acc", "objects": "obj", "partials": "src"}


def stats_partitions(settings: Settings, topics: Any) -> int:
    """Partitions of stats-inputs as the worker found them: with more than one, stage 4 runs."""
    return settings.partitions_of(topics.stats_inputs) or 1


def refusal(settings: Settings, topics: Any) -> str | None:
    """Why this configuration cannot run with partitioned statistics (a statistic whose category
    cannot be merged from partials, on an object type that gathers several partitions), or None."""
    sources = stats_partitions(settings, topics)
    if sources <= 1 or not settings.config.statistics:
        return None
    from pipeline.stats.partials import MergeStats

    try:
        MergeStats(settings.config, sources=sources)
    except ValueError as exc:
        return f"{topics.stats_inputs} has {sources} partitions: {exc}"
    return None


class _MergePartition(Checkpoint):
    """The merge of one stat-partials partition, checkpointed in the ``merge`` table."""

    def __init__(self, number: int, config, sources: int) -> None:
        from pipeline.stats.partials import MergeStats

        self.stats = MergeStats(config, sources=sources)
        super().__init__(number, self.stats, SECTIONS)
        self.last_input = time.monotonic()


def register(app: faust.App, topics, settings: Settings) -> None:
    config = settings.config
    if not config.statistics:
        return
    counts = telemetry.STAGES["stage4"]
    records_count = telemetry.STAGES["stage3"]  # statistic records published, whichever stage
    event_clock = settings.clock == "event"
    sources = stats_partitions(settings, topics)
    problem = refusal(settings, topics)
    if problem:
        raise ValueError(problem)
    inputs = app.topic(topics.stat_partials, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    stat_topics = {name: topics.stat(name) for name in config.stat_types}
    serialization = settings.serialization
    table = delivery.raw_table(app, "merge", settings.partitions_of(topics.stat_partials))
    partitions: dict[int, _MergePartition] = {}

    def publish(out: Batch, records: list[dict]) -> None:
        records_count["records"] += len(records)
        for r in records:
            topic = stat_topics[r["StatType"]]
            out.produce(topic, stat_record_key(r), serialization.encode("StatValue", r, topic))

    def partition(number: int) -> _MergePartition:
        part = partitions.get(number)
        if part is None:
            part = partitions[number] = _MergePartition(number, config, sources)
            part.restore(saved_entries(table, number))
        return part

    def applied(out: Batch, part: _MergePartition, tags: list[Input], records: list[dict]) -> None:
        if not event_clock:
            records = part.stats.advance(int(time.time() * 1000)) + records
        publish(out, records)
        part.applied_tags(tags)

    def handle(out: Batch, part: _MergePartition, event: Any) -> None:
        msg = event.message
        value = drop_payload(event)  # the event is kept until acknowledged; its bytes are not
        part.acks.received(event)
        if part.applied(msg.offset):
            counts["redelivered"] += 1
            part.unacked.append(event)  # acknowledged in order at the next checkpoint
            return
        try:
            body = delivery.loads(value)
            kind = body["Kind"]
            if kind == "watermark":
                tags, records = part.stats.watermark(int(body["From"]), int(body["Time"]))
                applied(out, part, [*tags, Input(msg.offset, event)], records)
                return
            updates = body["Updates"]
        except (ValueError, KeyError, TypeError) as bad:  # not ours: never crash, never lose
            log.warning("stage 4: undecodable input at %s:%s: %s", msg.partition, msg.offset, bad)
            part.done(event)
            return
        if not updates:
            part.done(event)
            return
        tag = Input(msg.offset, event, len(updates))
        for update in updates:
            tags, records = part.stats.push(update, tag)
            applied(out, part, tags, records)
        counts["updates"] += len(updates)

    @app.agent(inputs, name="stage4-merge")
    async def merge(stream):
        # Partitions opened afresh at every assignment, input offsets guarded (pipeline.stream.guard).
        async for events in guarded(app, stream, "stage4", partitions, MAX_BATCH, BATCH_WITHIN_S):
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
                if part is not None and part.due(now, CHECKPOINT_S):
                    use_partition(event)
                    await save(app, table, part, stream)

    @app.timer(interval=1.0)
    async def tick() -> None:
        """Wall clock only: resets and Time notifications of merged statistics, and updates held
        through a quiet spell merged anyway. Never on the event clock: only watermarks move it."""
        if event_clock:
            return
        now = time.monotonic()
        out = producer.batch()
        flushed: list[tuple[_MergePartition, list[Input]]] = []
        for part in list(partitions.values()):
            if part.saving:  # a checkpoint is reading its state (``checkpoint.save``): next tick
                continue
            records: list[dict] = []
            if now - part.last_input >= WALL_FLUSH_S:
                tags, records = part.stats.flush()
                if tags:
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
        """Drop the merges of partitions this worker no longer has (read again from the table if
        they come back: another worker may have moved them on meanwhile)."""
        mine = {tp.partition for tp in assigned if tp.topic == topics.stat_partials}
        for number in [n for n in partitions if n not in mine]:
            partitions.pop(number, None)
