"""Stage 1 on Kafka: raw events → interaction tracker → Queue actions + agent inputs.

A thin adapter over :class:`pipeline.core.steps.InteractionStep` (one per raw partition): it decodes
and validates each raw message (bad ones go to the dead-letter topic with the reason), hands it to
its partition's step, and produces the step's messages — agent events and bundles to stage 2 keyed
by Tenant/Agent, Queue actions to the actions and stats-inputs topics, the partition's watermark to
every stage-2 partition once the batch's outputs are acknowledged (stage 2, perhaps on another
worker, answers it with a watermark of its own to stage 3 that must not overtake stage 1's Queue
actions there). The steps' states are the ``interactions`` RocksDB table
(key Tenant/InteractionID, co-partitioned with the raw topic's InteractionID key). Inputs are
handled in batches (:mod:`pipeline.stream.batches`): every output of a batch goes through the
worker's one producer and is awaited once, then each changed interaction is written once, then the
inputs are acknowledged (:mod:`pipeline.stream.delivery`).
"""

from __future__ import annotations

import logging
import time

import faust

from pipeline import telemetry
from pipeline.core.steps import WATERMARK_EVERY, WATERMARK_STEP_MS, InteractionStep
from pipeline.records.errors import BadRecord
from pipeline.records.serialization import Serialization, SingleObject, framing_of
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.stream import delivery
from pipeline.stream.batches import WriteBehind, by_partition, use_partition
from pipeline.stream.dead_letters import send_dead_letter
from pipeline.stream.guard import StageGuard
from pipeline.stream.offsets import EndOffsets
from pipeline.stream.outputs import PartitionTable, Topics
from pipeline.stream.producer import shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

#: A partition with input unread is announced to stage 2 at most this often (stage 2 waits for it
#: while it heard so within its idle limit, 30 s with several upstream partitions).
HOLD_EVERY_S = 1.0

__all__ = ["WATERMARK_EVERY", "WATERMARK_STEP_MS", "decode_event", "register"]


def decode_event(value: bytes | None, serialization: Serialization | None = None, topic: str = "") -> object:
    """Avro (what ``feed`` writes: single-object or Schema Registry framing), or a JSON object (a
    simpler bridge)."""
    data = bytes(value or b"")
    if framing_of(data) is not None:
        return (serialization or SingleObject()).decode(data, topic, expected="ReportingEvent")[1]
    return parse_json_line(data)


def register(app: faust.App, topics, settings: Settings) -> None:
    counts = telemetry.STAGES["stage1"]
    stage2_partitions = settings.partitions_of(topics.agent_inputs) or 1
    stage3_partitions = settings.partitions_of(topics.stats_inputs) or 1
    raw = app.topic(topics.events, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    table = WriteBehind(delivery.raw_table(app, "interactions", settings.partitions_of(topics.events)))
    # One step per partition. Its in-memory part (the index of finished interactions to delete once
    # their retention has passed, the watermark) is rebuilt from the table when a partition is
    # first handled after an assignment, at the start of a batch (every state is written then).
    steps: dict[int, InteractionStep] = {}
    tolerance = settings.future_tolerance_ms  # the future-time rule, against the wall clock
    serialization = settings.serialization  # how records are framed (pipeline.records.serialization)
    outputs = Topics(topics, serialization)
    # True from the start of a batch until its outputs are acknowledged and it has announced: the
    # progress timer announces nothing meanwhile (its watermark would cover outputs in flight).
    in_flight = [False]

    def step_for(number: int, event) -> InteractionStep:
        step = steps.get(number)
        if step is None:
            use_partition(event)
            step = steps[number] = InteractionStep(
                number,
                PartitionTable(table, number),
                topic=topics.events,
                agent_partitions=stage2_partitions,
                stats_partitions=stage3_partitions,
                counts=counts,
            )
            log.info("interactions partition %d: %d finished interactions to expire", number,
                     len(step.finished))
        return step

    def committed_offset(tp) -> int | None:
        return app.consumer._committed_offset.get(tp) if app.consumer is not None else None

    async def dead_letter(msg, bad: BadRecord) -> None:
        counts["dead-letters"] += 1
        counts["dead-letter:" + bad.kind] += 1

        async def send(key: bytes | None, value: bytes) -> None:
            batch = producer.batch()
            batch.produce(topics.dead_letters, key, value)
            await batch.delivered()

        await send_dead_letter(
            send,
            msg.key,
            bytes(msg.value or b""),
            bad,
            source_topic=msg.topic,
            source_partition=msg.partition,
            source_offset=msg.offset,
            time_ms=lambda: int(time.time() * 1000),
            encode=lambda letter: serialization.encode("DeadLetter", letter, topics.dead_letters),
        )

    held: dict[int, float] = {}  # partition → when stage 2 was last told it has input unread

    def announce_unread(out) -> None:
        """Tell stage 2 which assigned partitions have input not processed yet, at most once a
        second each: a partition quiet for long enough that stage 2 stopped waiting for it (or
        every partition: stage 2 then releases on the event clock) must be waited for again as soon
        as input reaches it, or the first inputs of a backlog are released before the slower
        partitions' and theirs come late (:meth:`pipeline.core.ordering.Watermarks.hold`).
        Produced before the batch's outputs, by the same producer: stage 2 reads the holds first."""
        now = time.monotonic()
        for number in guard.unread():
            if now - held.get(number, -HOLD_EVERY_S) < HOLD_EVERY_S:
                continue
            held[number] = now
            counts["holds"] += 1
            value = delivery.dumps({"Kind": "hold", "From": number})
            for target in range(stage2_partitions):
                out.produce(topics.agent_inputs, b"watermark", value, partition=target)

    @app.timer(interval=1.0)
    async def announce_progress() -> None:
        """Announce what the last messages finished, so stage 2 need not wait for more input."""
        await guard.learn_starts()
        out = producer.batch()
        announce_unread(out)
        if not in_flight[0]:
            for step in list(steps.values()):
                outputs.produce(out, step.announce(force=True))
        await out.delivered()

    def reopen(numbers: list[int]) -> None:
        """Every assignment opens each partition afresh (pipeline.stream.guard): its steps and cached
        states go (rebuilt from the table when next used), inputs come again from the committed
        offset."""
        steps.clear()
        table.forget_all()
        held.clear()

    # End offsets on a connection of their own: asked in the batch loop, they must not wait behind
    # the consumer's long-poll fetch (pipeline.stream.offsets).
    guard = StageGuard(
        app, "stage1", topics.events, on_open=reopen, end_offsets=EndOffsets(settings.kafka.admin())
    )

    @app.on_partitions_assigned.connect
    async def forget_moved(sender, assigned, **kwargs) -> None:
        """Progress of partitions moved away is no longer this worker's to announce (what it
        announced of the others stays true); steps are rebuilt from the table when next used."""
        mine = {tp.partition for tp in assigned if tp.topic == topics.events}
        steps.clear()
        table.keep_only(mine)

    async def handle_batch(stream, events: list) -> None:
        """One batch: its outputs, their delivery, its states, its watermarks, its acks."""
        heads = by_partition(events)
        for number, event in heads.items():
            step_for(number, event)  # every state of the partition is in the table now
        out = producer.batch()
        await guard.refresh_ends()
        announce_unread(out)  # before the batch's outputs: stage 2 must not release them early
        for event in events:
            if not guard.current(event):  # its partition was opened afresh meanwhile
                continue
            msg = event.message
            counts["events"] += 1
            use_partition(event)
            try:
                record = validate_event(
                    decode_event(msg.value, serialization, msg.topic),
                    reference_ms=int(time.time() * 1000),
                    future_tolerance_ms=tolerance,
                )
            except BadRecord as bad:
                await dead_letter(msg, bad)
                continue
            step = step_for(msg.partition, event)
            outputs.produce(out, step.step(msg.offset, record, committed_offset(msg.tp)))
        for number in heads:
            if number in steps:
                outputs.produce(out, steps[number].take_bundles())
        await out.delivered()
        table.write(heads)
        # Acknowledged: now the watermarks may say so (awaited too, so that a failure stops the
        # batch before its inputs are acknowledged, as for any other output).
        marks = producer.batch()
        for number in heads:
            if number in steps:
                outputs.produce(marks, steps[number].announce())
        await marks.delivered()
        for event in events:
            if guard.current(event):  # else its state was dropped unwritten: it comes again
                await stream.ack(event)

    @app.agent(raw, name="stage1-interactions")
    async def interactions(stream):
        async for events in guard.batches(stream):
            started = time.perf_counter()
            in_flight[0] = True
            try:
                await handle_batch(stream, events)
            finally:
                in_flight[0] = False
            # Per input message, as the metric says: each message of the batch observes its share.
            each = (time.perf_counter() - started) / len(events)
            histogram = telemetry.PROCESSING.labels("stage1")
            for _ in events:
                histogram.observe(each)
