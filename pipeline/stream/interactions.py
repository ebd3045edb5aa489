"""Stage 1 on Kafka: raw events → interaction tracker → Queue actions + agent inputs.

A thin adapter over :mod:`pipeline.core.interactions`: it decodes and validates each raw message
(bad ones go to the dead-letter topic with the reason), forwards agent events to stage 2 keyed by
Tenant/Agent, and applies interaction events to the ``interactions`` RocksDB table (key
Tenant/InteractionID, co-partitioned with the raw topic's InteractionID key). Inputs are handled in
batches (:mod:`pipeline.stream.batches`): every output of a batch goes through the worker's one
producer and is awaited once, then each changed interaction is written once, then the inputs are
acknowledged (:mod:`pipeline.stream.delivery`).
"""

from __future__ import annotations

import logging
import time

import faust

from pipeline import telemetry
from pipeline.core.driver import DEFAULT_RETENTION_MS
from pipeline.core.interactions import track
from pipeline.records.catalog import AGENT_EVENTS, IGNORED_EVENTS
from pipeline.records.errors import BadRecord
from pipeline.records.keys import action_key, agent_key, interaction_key
from pipeline.records.serialization import Serialization, SingleObject, framing_of
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.stream import delivery
from pipeline.stream.batches import WriteBehind, by_partition, use_partition
from pipeline.stream.dead_letters import send_dead_letter
from pipeline.stream.expiry import FinishedIndex, partition_entries
from pipeline.stream.guard import StageGuard
from pipeline.stream.producer import Batch, shared_producer
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)


def decode_event(value: bytes | None, serialization: Serialization | None = None, topic: str = "") -> object:
    """Avro (what ``feed`` writes: single-object or Schema Registry framing), or a JSON object (a
    simpler bridge)."""
    data = bytes(value or b"")
    if framing_of(data) is not None:
        return (serialization or SingleObject()).decode(data, topic, expected="ReportingEvent")[1]
    return parse_json_line(data)


#: Stage 1 announces a partition's progress after this much event time or this many messages.
WATERMARK_STEP_MS = 1000
WATERMARK_EVERY = 200


def register(app: faust.App, topics, settings: Settings) -> None:
    counts = telemetry.STAGES["stage1"]
    stage2_partitions = settings.partitions_of(topics.agent_inputs) or 1
    stage3_partitions = settings.partitions_of(topics.stats_inputs) or 1
    raw = app.topic(topics.events, key_type=bytes, value_type=bytes)
    producer = shared_producer(app, settings)
    table = WriteBehind(delivery.raw_table(app, "interactions", settings.partitions_of(topics.events)))
    # Finished interactions, per partition, to delete once their retention has passed. Deleting
    # writes the table, which faust allows only while handling a message of that partition. A state
    # is deleted only once every input it holds is committed: otherwise a crash would redeliver
    # those inputs to an empty state, which would take them for a new interaction. The index is
    # rebuilt from the table's own entries after every assignment (pipeline.stream.expiry), at the
    # start of a batch (when every state of the partition is written).
    finished = FinishedIndex()
    resumed_at: dict[int, int] = {}  # partition → first offset read since it was assigned
    tolerance = settings.future_tolerance_ms  # the future-time rule, against the wall clock
    serialization = settings.serialization  # how records are framed (pipeline.records.serialization)

    def expire(tp, now: int) -> None:
        queue = finished.queue(tp.partition)
        committed = app.consumer._committed_offset.get(tp) if app.consumer is not None else None
        # Inputs below the first offset read since the assignment were committed before it (faust
        # resumes at the committed offset), also while the consumer has not yet learnt its own.
        safe_below = max(-1 if committed is None else committed, resumed_at.get(tp.partition, -1))
        while queue and queue[0][0] + DEFAULT_RETENTION_MS <= now:
            stopped_at, key = queue[0]
            state = table.get(tp.partition, key)
            if state is not None and state.get("stopped_at") == stopped_at:
                if delivery.last_offset(state) >= safe_below:
                    return  # not yet safe; try again on a later message
                table.delete(tp.partition, key)
            queue.popleft()

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

    def process(msg, out: Batch, record: dict) -> int:
        """One valid raw message; its outputs go to ``out``; returns its event time."""
        source = delivery.source_position(msg.topic, msg.partition, msg.offset)
        name = record["Event"]
        if name in IGNORED_EVENTS:
            counts["ignored"] += 1
            return record["EventTime"]
        if name in AGENT_EVENTS:
            item = {"Kind": "event", "Source": source, "Item": record}
            key = agent_key(record["TenantID"], record["AgentID"]).encode()
            out.produce(topics.agent_inputs, key, delivery.dumps(item))
            return record["EventTime"]
        key = interaction_key(record).encode()
        state = table.get(msg.partition, key)
        if delivery.seen(state, source):
            counts["redelivered"] += 1
            return record["EventTime"]
        state, result = track(state, record)
        counts["duplicates"] += result.duplicate
        for kind in result.anomalies:
            counts["anomaly:" + kind] += 1
        if result.queue_actions:
            # Each action on the public actions topic; all of them again, as one bundle, to stage 3
            # (README "Order").
            for a in result.queue_actions:
                encoded = serialization.encode("ActionRecord", a, topics.actions)
                out.produce(topics.actions, action_key(a), encoded)
            for bundle_key, bundle in stats_bundles(result.queue_actions, stage3_partitions):
                out.produce(topics.stats_inputs, bundle_key, bundle)
        for bundle in result.bundles:
            item = {"Kind": "bundle", "Source": f"{source}/{bundle['AgentID']}", "Item": bundle}
            out.produce(
                topics.agent_inputs,
                agent_key(bundle["TenantID"], bundle["AgentID"]).encode(),
                delivery.dumps(item),
            )
        counts["actions"] += len(result.queue_actions)
        delivery.remember(state, source)
        table.put(msg.partition, key, state)
        if name == "EventProcessingStopped" and not result.duplicate:
            finished.add(msg.partition, state["stopped_at"], key)
        expire(msg.tp, record["EventTime"])
        return record["EventTime"]

    # Watermarks (core.ordering.Watermarks): per raw partition, the largest event time finished,
    # announced to every partition of stage 2 after the outputs it covers (produced after them by
    # the same idempotent producer, so never ahead of them on any partition).
    announced: dict[int, tuple[int, int]] = {}  # partition → (time announced, messages since)

    latest: dict[int, int] = {}  # partition → largest event time finished

    def announce(out: Batch, partition: int, event_time: int, messages: int = 1, force: bool = False) -> None:
        """Announce ``partition``'s progress after ``messages`` more inputs, finished up to ``event_time``
        (called once per batch: one watermark covers the whole batch)."""
        last, since = announced.get(partition, (None, 0))
        high = event_time if last is None else max(last, event_time)
        latest[partition] = high
        since += messages
        if not force and last is not None and high - last < WATERMARK_STEP_MS and since < WATERMARK_EVERY:
            announced[partition] = (last, since)
            return
        mark = delivery.dumps({"Kind": "watermark", "From": partition, "Time": high})
        for n in range(stage2_partitions):
            out.produce(topics.agent_inputs, b"watermark", mark, partition=n)
        announced[partition] = (high, 0)

    @app.timer(interval=1.0)
    async def announce_progress() -> None:
        """Announce what the last messages finished, so stage 2 need not wait for more input."""
        out = producer.batch()
        for partition, high in list(latest.items()):
            if announced.get(partition, (None, 0))[0] != high:
                announce(out, partition, high, force=True)
        await out.delivered()

    def reopen(numbers: list[int]) -> None:
        """Every assignment opens each partition afresh (pipeline.stream.guard): its cached states
        and finished index go (read again from the table), inputs come again from the committed
        offset."""
        finished.forget_all()  # rebuilt from the table when next used
        table.forget_all()
        resumed_at.clear()

    guard = StageGuard(app, "stage1", topics.events, on_open=reopen)

    @app.on_partitions_assigned.connect
    async def forget_moved(sender, assigned, **kwargs) -> None:
        """Progress of partitions moved away is no longer this worker's to announce (what it
        announced of the others stays true)."""
        mine = {tp.partition for tp in assigned if tp.topic == topics.events}
        for number in [n for n in latest if n not in mine]:
            latest.pop(number, None)
            announced.pop(number, None)

    @app.agent(raw, name="stage1-interactions")
    async def interactions(stream):
        async for events in guard.batches(stream):
            started = time.perf_counter()
            heads = by_partition(events)
            for number, event in heads.items():
                if not finished.built(number):  # every state of the partition is in the table now
                    use_partition(event)
                    count = finished.rebuild(number, partition_entries(table.table, number))
                    log.info("interactions partition %d: %d finished interactions to expire", number, count)
            out = producer.batch()
            progress: dict[int, tuple[int, int]] = {}  # partition → (largest event time, messages)
            for event in events:
                if not guard.current(event):  # its partition was opened afresh meanwhile
                    continue
                msg = event.message
                resumed_at.setdefault(msg.partition, msg.offset)
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
                event_time = process(msg, out, record)
                high, messages = progress.get(msg.partition, (event_time, 0))
                progress[msg.partition] = (max(high, event_time), messages + 1)
            for partition, (high, messages) in progress.items():
                announce(out, partition, high, messages)  # after the outputs it covers
            await out.delivered()
            table.write(heads)
            for event in events:
                if guard.current(event):  # else its state was dropped unwritten: it comes again
                    await stream.ack(event)
            # Per input message, as the metric says: each message of the batch observes its share.
            each = (time.perf_counter() - started) / len(events)
            histogram = telemetry.PROCESSING.labels("stage1")
            for _ in events:
                histogram.observe(each)


def stats_bundles(actions: list[dict], stage3_partitions: int) -> list[tuple[bytes, bytes]]:
    """The stats-inputs messages of one input's actions: ``(key, value)``.

    One bundle for all of them when stage 3 has one partition (the default); with several, one per
    object key, so that each action still reaches the partition its key chooses.
    """
    if stage3_partitions == 1:
        return [(action_key(actions[0]), delivery.bundle(actions))]
    groups: dict[bytes, list[dict]] = {}
    for a in actions:
        groups.setdefault(action_key(a), []).append(a)
    return [(key, delivery.bundle(group)) for key, group in groups.items()]
