"""Stage 1 on Kafka: raw events → interaction tracker → Queue actions + agent inputs.

A thin adapter over :mod:`pipeline.core.interactions`: it decodes and validates each raw message
(bad ones go to the dead-letter topic with the reason), forwards agent events to stage 2 keyed by
Tenant/Agent, and applies interaction events to the ``interactions`` RocksDB table (key
Tenant/InteractionID, co-partitioned with the raw topic's InteractionID key). Effects are made
crash-safe by :mod:`pipeline.stream.delivery`.
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
from pipeline.stream.dead_letters import send_dead_letter
from pipeline.stream.expiry import FinishedIndex, partition_entries
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
    raw = app.topic(topics.events, key_type=bytes, value_type=bytes)
    agent_inputs = app.topic(topics.agent_inputs, key_type=bytes, value_type=bytes)
    actions = app.topic(topics.actions, key_type=bytes, value_type=bytes)
    stats_inputs = app.topic(topics.stats_inputs, key_type=bytes, value_type=bytes)
    dead_letters = app.topic(topics.dead_letters, key_type=bytes, value_type=bytes)
    table = delivery.JsonTable(delivery.raw_table(app, "interactions", settings.partitions_of(topics.events)))
    # Finished interactions, per partition, to delete once their retention has passed. Deleting
    # writes the table, which faust allows only while handling a message of that partition. A state
    # is deleted only once every input it holds is committed: otherwise a crash would redeliver
    # those inputs to an empty state, which would take them for a new interaction. The index is
    # rebuilt from the table's own entries after every assignment (pipeline.stream.expiry).
    finished = FinishedIndex()
    resumed_at: dict[int, int] = {}  # partition → first offset read since it was assigned
    tolerance = settings.future_tolerance_ms  # the future-time rule, against the wall clock
    serialization = settings.serialization  # how records are framed (pipeline.records.serialization)

    def expire(tp, now: int) -> None:
        if not finished.built(tp.partition):
            count = finished.rebuild(tp.partition, partition_entries(table.table, tp.partition))
            log.info("interactions partition %d: %d finished interactions to expire", tp.partition, count)
        queue = finished.queue(tp.partition)
        committed = app.consumer._committed_offset.get(tp) if app.consumer is not None else None
        # Inputs below the first offset read since the assignment were committed before it (faust
        # resumes at the committed offset), also while the consumer has not yet learnt its own.
        safe_below = max(-1 if committed is None else committed, resumed_at.get(tp.partition, -1))
        while queue and queue[0][0] + DEFAULT_RETENTION_MS <= now:
            stopped_at, key = queue[0]
            state = table[key]
            if state is not None and state.get("stopped_at") == stopped_at:
                if delivery.last_offset(state) >= safe_below:
                    return  # not yet safe; try again on a later message
                del table[key]
            queue.popleft()

    async def process(msg) -> int | None:
        """One raw message; returns its event time (None when dead-lettered)."""
        source = delivery.source_position(msg.topic, msg.partition, msg.offset)
        resumed_at.setdefault(msg.partition, msg.offset)
        counts["events"] += 1
        try:
            record = validate_event(
                decode_event(msg.value, serialization, msg.topic),
                reference_ms=int(time.time() * 1000),
                future_tolerance_ms=tolerance,
            )
        except BadRecord as bad:
            counts["dead-letters"] += 1
            counts["dead-letter:" + bad.kind] += 1

            async def send(key: bytes | None, value: bytes) -> None:
                await delivery.send_all([dead_letters.send(key=key, value=value, force=True)])

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
            return None
        name = record["Event"]
        if name in IGNORED_EVENTS:
            counts["ignored"] += 1
            return record["EventTime"]
        if name in AGENT_EVENTS:
            item = {"Kind": "event", "Source": source, "Item": record}
            key = agent_key(record["TenantID"], record["AgentID"]).encode()
            await delivery.send_all([agent_inputs.send(key=key, value=delivery.dumps(item), force=True)])
            return record["EventTime"]
        key = interaction_key(record).encode()
        state = table[key]
        if delivery.seen(state, source):
            counts["redelivered"] += 1
            return record["EventTime"]
        state, result = track(state, record)
        counts["duplicates"] += result.duplicate
        for kind in result.anomalies:
            counts["anomaly:" + kind] += 1
        sends = []
        for a in result.queue_actions:  # to the actions topic, and again to stage 3 (README "Order")
            a_key, a_value = action_key(a), serialization.encode("ActionRecord", a, topics.actions)
            sends.append(actions.send(key=a_key, value=a_value, force=True))
            sends.append(stats_inputs.send(key=a_key, value=a_value, force=True))
        for bundle in result.bundles:
            item = {"Kind": "bundle", "Source": f"{source}/{bundle['AgentID']}", "Item": bundle}
            sends.append(
                agent_inputs.send(
                    key=agent_key(bundle["TenantID"], bundle["AgentID"]).encode(),
                    value=delivery.dumps(item),
                    force=True,
                )
            )
        await delivery.send_all(sends)
        counts["actions"] += len(result.queue_actions)
        delivery.remember(state, source)
        table[key] = state
        if name == "EventProcessingStopped" and not result.duplicate and finished.built(msg.partition):
            finished.add(msg.partition, state["stopped_at"], key)
        expire(msg.tp, record["EventTime"])
        return record["EventTime"]

    # Watermarks (core.ordering.Watermarks): per raw partition, the largest event time finished,
    # announced to every partition of stage 2 after the outputs it covers.
    announced: dict[int, tuple[int, int]] = {}  # partition → (time announced, messages since)

    latest: dict[int, int] = {}  # partition → largest event time finished

    async def announce(partition: int, event_time: int, force: bool = False) -> None:
        last, since = announced.get(partition, (None, 0))
        high = event_time if last is None else max(last, event_time)
        latest[partition] = high
        if not force and last is not None and high - last < WATERMARK_STEP_MS and since < WATERMARK_EVERY:
            announced[partition] = (last, since + 1)
            return
        mark = delivery.dumps({"Kind": "watermark", "From": partition, "Time": high})
        await delivery.send_all(
            agent_inputs.send(key=b"watermark", value=mark, partition=n, force=True)
            for n in range(stage2_partitions)
        )
        announced[partition] = (high, 0)

    @app.timer(interval=1.0)
    async def announce_progress() -> None:
        """Announce what the last messages finished, so stage 2 need not wait for more input."""
        for partition, high in list(latest.items()):
            if announced.get(partition, (None, 0))[0] != high:
                await announce(partition, high, force=True)

    @app.on_partitions_assigned.connect
    async def forget_moved(sender, assigned, **kwargs) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == topics.events}
        finished.forget_all()  # rebuilt from the table when next used
        resumed_at.clear()
        for number in [n for n in latest if n not in mine]:
            latest.pop(number, None)
            announced.pop(number, None)

    @app.agent(raw, name="stage1-interactions")
    async def interactions(stream):
        async for event in stream.events():
            started = time.perf_counter()
            event_time = await process(event.message)
            telemetry.PROCESSING.labels("stage1").observe(time.perf_counter() - started)
            if event_time is not None:
                await announce(event.message.partition, event_time)
