"""Stage 2 on Kafka: agent inputs → reorder window → agent/place media state → actions.

A thin adapter over :mod:`pipeline.core.agents` and :mod:`pipeline.core.ordering`. Inputs (agent
events and stage 1's bundles, keyed by Tenant/Agent) wait per partition until the watermarks that
stage 1 announces for each of its partitions (:class:`~pipeline.core.ordering.Watermarks`) have
passed their event time by the window; then they are applied in event-time order to the agents'
states and their actions are sent to the actions topic. Inputs come in batches
(:mod:`pipeline.stream.batches`): the states live in memory and each changed one is written to the
``agents`` RocksDB table once per batch, after the batch's outputs are acknowledged. Acks are
manual and in offset order (:class:`~pipeline.stream.delivery.InOrderAcks`): faust never commits
past an input still waiting, and a crash redelivers it.

When no input has arrived for :data:`WALL_FLUSH_S` of wall time, a timer sends a *tick* to the
partition (faust lets a table be written only while a message of that partition is handled); the
tick releases what the watermarks allow, and everything once every upstream partition is idle.

Stage 3 needs the same guarantee for the actions of both stages: each partition sends the actions
of each input to the stats-inputs topic too, as one *bundle* message, and after them (same
idempotent producer, so never ahead of them) a *watermark* there: every action
at or before that time is already on the topic — its own (released up to the time) and stage 1's
Queue actions (stage 1 announced the time only after Kafka acknowledged them). Once every upstream
partition is idle and everything is released, the watermark is the furthest upstream mark: the
explicit end of the input so far, as the end of the file is in replay.
"""

from __future__ import annotations

import logging
import time

import faust

from pipeline import telemetry
from pipeline.core.agents import AgentResult, apply_input, evaluate_pending, evaluation_points
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer, Watermarks, rank_of
from pipeline.records.keys import action_key, agent_key
from pipeline.stream import delivery, late
from pipeline.stream.batches import WriteBehind, by_partition, use_partition
from pipeline.stream.guard import StageGuard
from pipeline.stream.interactions import stats_bundles
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

WALL_FLUSH_S = 2.0
MULTI_SOURCE_IDLE_S = 30.0
#: The ``agents`` table entry (per partition) of the upstream watermarks received (no agent key
#: starts with a NUL).
MARKS_KEY = b"\x00watermarks"


class _Partition:
    """The reorder window of one input partition, with the faust events waiting in it."""

    def __init__(self, window_ms: int, sources: int) -> None:
        self.buffer = ReorderBuffer(window_ms)
        # One upstream partition delivers in order: silence means it is done. With several, one
        # may be paused for a rebalance while others run on: give it time before going without it.
        idle_s = WALL_FLUSH_S if sources == 1 else MULTI_SOURCE_IDLE_S
        self.marks = Watermarks(sources, window_ms, idle_s=idle_s, started=time.monotonic())
        self.oldest_wait: float | None = None  # wall time the oldest waiting input arrived
        self.tick_sent = False
        self.last_input = time.monotonic()
        self.acks = delivery.InOrderAcks()
        self.mark_sent: int | None = None  # the last watermark sent to stage 3

    def behind(self) -> bool:
        """Upstream has announced more than the last watermark sent to stage 3 covers."""
        high = self.marks.highest()
        return high is not None and (self.mark_sent is None or self.mark_sent < high)


def register(app: faust.App, topics, settings: Settings) -> None:
    capacity = settings.config.capacity
    counts = telemetry.STAGES["stage2"]
    inputs = app.topic(topics.agent_inputs, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    stage3_partitions = settings.partitions_of(topics.stats_inputs) or 1
    table = WriteBehind(delivery.raw_table(app, "agents", settings.partitions_of(topics.agent_inputs)))
    partitions: dict[int, _Partition] = {}
    sources = settings.partitions_of(topics.events) or 1  # stage 1 partitions announcing watermarks
    late_out = late.sink(app, topics, settings)  # <prefix>.late (pipeline.stream.late)

    def apply(out: Batch, number: int, item: dict, source: str, evaluate: bool) -> None:
        key = agent_key(item["TenantID"], item["AgentID"]).encode()
        state = table.get(number, key)
        if delivery.seen(state, source):
            counts["redelivered"] += 1
            if not (evaluate and state.get("_eval")):
                return
            result = evaluate_pending(state, capacity, AgentResult())
        else:
            state, result = apply_input(state, item, capacity, evaluate)
        counts["duplicates"] += result.duplicate
        for kind in result.anomalies:
            counts["anomaly:" + kind] += 1
        if result.actions:
            for a in result.actions:
                encoded = settings.serialization.encode("ActionRecord", a, topics.actions)
                out.produce(topics.actions, action_key(a), encoded)
            for bundle_key, bundle in stats_bundles(result.actions, stage3_partitions):
                out.produce(topics.stats_inputs, bundle_key, bundle)
        counts["actions"] += len(result.actions)
        delivery.remember(state, source)
        table.put(number, key, state)

    def announce(out: Batch, part: _Partition, number: int, mark: int | None) -> None:
        """Tell stage 3 that every action at or before ``mark`` is on the stats-inputs topic."""
        if mark is None or (part.mark_sent is not None and mark <= part.mark_sent):
            return
        value = delivery.dumps({"Kind": "watermark", "From": number, "Time": mark})
        for n in range(stage3_partitions):
            out.produce(topics.stats_inputs, b"watermark", value, partition=n)
        part.mark_sent = mark

    def handle(out: Batch, event) -> tuple[list, int | None]:
        """One input message; returns the faust events (this one or earlier) now finished, and the
        watermark stage 3 may be told (announced once per batch, after the batch's actions)."""
        msg = event.message
        number = msg.partition
        part = partitions.get(number)
        now = time.monotonic()
        if part is None:
            part = partitions[number] = _Partition(DEFAULT_WINDOW_MS, sources)
            # The upstream marks this partition had received, saved with its states: a partition
            # opened afresh may never see those watermark messages again (they can lie below the
            # committed offset), and without them it would never announce the end to stage 3.
            for source, mark in (table.get(number, MARKS_KEY) or {}).items():
                part.marks.update(int(source), mark, now)
        part.acks.received(event)
        wrapped = delivery.loads(msg.value)
        if wrapped["Kind"] == "tick":
            # Quiet for a while: release what the watermarks allow, everything once every
            # upstream partition is idle too.
            limit = part.marks.limit(now, fallback=part.buffer.max_seen)
            released = [] if limit is None else part.buffer.release_to(limit)
            part.tick_sent = False
            held = [event]
            mark = limit
            high = part.marks.highest()
            if part.marks.idle(now) and not len(part.buffer) and high is not None:
                # Everything upstream sent is released: the end of the input so far.
                mark = high if mark is None else max(mark, high)
        elif wrapped["Kind"] == "watermark":
            part.marks.update(wrapped["From"], wrapped["Time"], now)
            table.put(number, MARKS_KEY, part.marks.marks())
            released, held, mark = [], [event], None
        else:
            item = wrapped["Item"]
            entry = (item, wrapped, event)
            before = part.buffer.late
            released = part.buffer.hold(item["EventTime"], rank_of(item, msg.offset), entry)
            counts["late"] += part.buffer.late - before
            late_out.stage2(part.buffer, before, item, wrapped.get("Source"))
            held = []
            part.last_input = now
            if part.oldest_wait is None:
                part.oldest_wait = now
            mark = None
        fallback = None if part.buffer.max_seen is None else part.buffer.max_seen - DEFAULT_WINDOW_MS
        limit = part.marks.limit(now, fallback)
        if limit is not None:
            released += part.buffer.release_to(limit)
            mark = limit if mark is None else max(mark, limit)
        ends = evaluation_points(
            [entry[0] for entry in released],
            lambda item: table.get(number, agent_key(item["TenantID"], item["AgentID"]).encode()),
        )
        for (item, wrapped_item, source_event), evaluate in zip(released, ends, strict=True):
            apply(out, number, item, wrapped_item["Source"], evaluate)
            held.append(source_event)
        if released:
            part.oldest_wait = time.monotonic() if len(part.buffer) else None
        return held, mark

    wake: set[int] = set()  # partitions opened afresh that have not handled an input since

    def reopen(numbers: list[int]) -> None:
        """Every assignment opens each partition afresh (pipeline.stream.guard): reorder windows,
        waiting acks and cached states go; the inputs they held come again from the committed
        offset, and states are read again from the table. Each assigned partition gets a tick, so
        that one with nothing left to read still restores its upstream marks and announces them."""
        partitions.clear()
        table.forget_all()
        wake.clear()
        wake.update(numbers)

    guard = StageGuard(app, "stage2", topics.agent_inputs, on_open=reopen)

    @app.agent(inputs, name="stage2-agents")
    async def agents(stream):
        async for events in guard.batches(stream):
            out = producer.batch()
            finished: list = []
            marks: dict[int, int] = {}  # partition → the watermark to announce after the batch
            for event in events:
                use_partition(event)
                held, mark = handle(out, event)
                finished += held
                number = event.message.partition
                if mark is not None:
                    marks[number] = max(mark, marks.get(number, mark))
            for number, mark in marks.items():
                part = partitions.get(number)
                if part is not None:
                    announce(out, part, number, mark)
            await out.delivered()
            table.write(by_partition(events))
            for done_event in finished:
                part = partitions.get(done_event.message.partition)
                if part is None or not guard.current(done_event):  # opened afresh: it comes again
                    continue
                for done in part.acks.finished(done_event):
                    await stream.ack(done)

    @app.timer(interval=0.5)
    async def flush_idle_windows() -> None:
        now = time.monotonic()
        out = producer.batch()
        for number in [n for n in wake if n not in partitions]:
            out.produce(topics.agent_inputs, b"tick", delivery.dumps({"Kind": "tick"}), partition=number)
        wake.clear()
        for number, part in list(partitions.items()):
            idle = now - part.last_input >= WALL_FLUSH_S
            waiting = part.oldest_wait is not None or (part.behind() and part.marks.idle(now))
            if waiting and not part.tick_sent and idle:
                part.tick_sent = True
                out.produce(topics.agent_inputs, b"tick", delivery.dumps({"Kind": "tick"}), partition=number)
        await out.delivered()
