"""Stage 2 on Kafka: agent inputs → reorder window → agent/place media state → actions.

A thin adapter over :class:`pipeline.core.steps.AgentStep` (one per partition), which holds every
rule below (replay and the topology driver run the same step). Inputs (agent
events and stage 1's bundles, keyed by Tenant/Agent) wait per partition until the watermarks that
stage 1 announces for each of its partitions (:class:`~pipeline.core.ordering.Watermarks`) have
passed their event time by the window; then they are applied in event-time order to the agents'
states and their actions are sent to the actions topic. Inputs come in batches
(:mod:`pipeline.stream.batches`): the states live in memory and each changed one is written to the
``agents`` RocksDB table once per batch, after the batch's outputs are acknowledged. Acks are
manual and in offset order (the step reports finished offsets in order,
:class:`~pipeline.core.redelivery.OffsetAcks`): faust never commits
past an input still waiting, and a crash redelivers it.

When no input has arrived for :data:`WALL_FLUSH_S` of wall time, a timer sends a *tick* to the
partition (faust lets a table be written only while a message of that partition is handled); the
tick releases what the watermarks allow, and everything once every upstream partition is idle.

Stage 3 needs the same guarantee for the actions of both stages: each partition sends the actions
of each batch to the stats-inputs topic too, gathered into *bundle* messages, and after them (same
idempotent producer, so never ahead of them) a *watermark* there: every action
at or before that time is already on the topic — its own (released up to the time) and stage 1's
Queue actions (stage 1 announces a time only once Kafka has acknowledged the outputs of the inputs
it covers, so a watermark from another worker's stage 2 cannot overtake them). Once every upstream
partition is idle and everything is released, the watermark is the furthest upstream mark: the
explicit end of the input so far, as the end of the file is in replay.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import faust

from pipeline import telemetry
from pipeline.core.steps import MULTI_SOURCE_IDLE_S, TICK, WALL_FLUSH_S, AgentStep
from pipeline.stream import delivery, late
from pipeline.stream.batches import WriteBehind, by_partition, use_partition
from pipeline.stream.guard import StageGuard
from pipeline.stream.outputs import PartitionTable, Topics
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["MULTI_SOURCE_IDLE_S", "WALL_FLUSH_S", "register"]


class _Partition:
    """One input partition: its step, and the faust events it has not yet finished (by offset).

    An offset can come twice in one process (faust refetches after a seek): each copy is an input
    of its own to the step, which finishes each once, so the events of an offset are kept in order.
    """

    def __init__(self, step: AgentStep) -> None:
        self.step = step
        self.events: dict[int, deque] = {}

    def received(self, event) -> None:
        self.events.setdefault(event.message.offset, deque()).append(event)

    def finished(self, offset: int):
        copies = self.events[offset]
        event = copies.popleft()
        if not copies:
            del self.events[offset]
        return event


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
    outputs = Topics(topics, settings.serialization, late_out)

    def handle(out: Batch, event) -> list[tuple[_Partition, object]]:
        """One input message; returns the faust events (this one or earlier) now finished, in
        offset order, with their partition (the step's watermark is announced once per batch)."""
        msg = event.message
        number = msg.partition
        part = partitions.get(number)
        if part is None:
            step = AgentStep(
                number,
                PartitionTable(table, number),
                capacity,
                topic=topics.agent_inputs,
                sources=sources,
                stats_partitions=stage3_partitions,
                window_ms=settings.reorder_window_ms,
                now=time.time(),
                counts=counts,
            )
            part = partitions[number] = _Partition(step)
        part.received(event)
        # each message produced as it is made (AgentStep.iter_step): a release can be a whole instant
        result = part.step.iter_step(msg.offset, delivery.loads(msg.value), time.time())
        outputs.produce(out, result.messages)
        return [(part, part.finished(offset)) for offset in result.finished]

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
            for event in events:
                use_partition(event)
                finished += handle(out, event)
            for number in by_partition(events):
                part = partitions.get(number)
                if part is not None:
                    outputs.produce(out, part.step.end_batch())  # after the batch's actions
            await out.delivered()
            table.write(by_partition(events))
            for part, done in finished:
                if partitions.get(done.message.partition) is not part or not guard.current(done):
                    continue  # moved or opened afresh meanwhile: its inputs come again
                await stream.ack(done)

    @app.timer(interval=0.5)
    async def flush_idle_windows() -> None:
        now = time.time()
        out = producer.batch()
        for number in [n for n in wake if n not in partitions]:
            out.produce(topics.agent_inputs, b"tick", delivery.dumps({"Kind": "tick"}), partition=number)
        wake.clear()
        for number, part in list(partitions.items()):
            if part.step.wants_tick(now):
                out.produce(topics.agent_inputs, b"tick", delivery.dumps(TICK), partition=number)
        await out.delivered()
