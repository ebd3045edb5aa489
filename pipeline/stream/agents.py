"""Stage 2 on Kafka: agent inputs → reorder window → agent/place media state → actions.

A thin adapter over :mod:`pipeline.core.agents` and :mod:`pipeline.core.ordering`. Inputs (agent
events and stage 1's bundles, keyed by Tenant/Agent) wait per partition until the watermarks that
stage 1 announces for each of its partitions (:class:`~pipeline.core.ordering.Watermarks`) have
passed their event time by the window; then they are applied in event-time order to the ``agents``
RocksDB table and their actions are sent to the actions topic. Acks are manual and in offset order
(:class:`~pipeline.stream.delivery.InOrderAcks`): faust never commits past an input still waiting,
and a crash redelivers it.

When no input has arrived for :data:`WALL_FLUSH_S` of wall time, a timer sends a *tick* to the
partition (faust lets a table be written only while a message of that partition is handled); the
tick releases what the watermarks allow, and everything once every upstream partition is idle.
"""

from __future__ import annotations

import logging
import time

import faust

from pipeline.core.agents import AgentResult, apply_input, evaluate_pending, evaluation_points
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer, Watermarks, rank_of
from pipeline.records.codec import encode
from pipeline.records.keys import action_key, agent_key
from pipeline.stream import delivery
from pipeline.stream.settings import Settings

log = logging.getLogger(__name__)

WALL_FLUSH_S = 2.0
MULTI_SOURCE_IDLE_S = 30.0


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


def register(app: faust.App, topics, settings: Settings) -> None:
    capacity = settings.config.capacity
    inputs = app.topic(topics.agent_inputs, key_type=bytes, value_type=bytes)
    actions = app.topic(topics.actions, key_type=bytes, value_type=bytes)
    table = delivery.JsonTable(delivery.raw_table(app, "agents", settings.partitions_of(topics.agent_inputs)))
    partitions: dict[int, _Partition] = {}
    sources = settings.partitions_of(topics.events) or 1  # stage 1 partitions announcing watermarks

    def state_of(item: dict) -> dict | None:
        return table[agent_key(item["TenantID"], item["AgentID"]).encode()]

    async def apply(item: dict, source: str, evaluate: bool) -> None:
        key = agent_key(item["TenantID"], item["AgentID"]).encode()
        state = table[key]
        if delivery.seen(state, source):
            if not (evaluate and state.get("_eval")):
                return
            result = evaluate_pending(state, capacity, AgentResult())
        else:
            state, result = apply_input(state, item, capacity, evaluate)
        await delivery.send_all(
            actions.send(key=action_key(a), value=encode("ActionRecord", a), force=True)
            for a in result.actions
        )
        delivery.remember(state, source)
        table[key] = state

    @app.agent(inputs, name="stage2-agents")
    async def agents(stream):
        manual = stream.noack()
        async for event in manual.events():
            msg = event.message
            part = partitions.get(msg.partition)
            if part is None:
                part = partitions[msg.partition] = _Partition(DEFAULT_WINDOW_MS, sources)
            part.acks.received(event)
            wrapped = delivery.loads(msg.value)
            now = time.monotonic()
            if wrapped["Kind"] == "tick":
                # Quiet for a while: release what the watermarks allow, everything once every
                # upstream partition is idle too.
                limit = part.marks.limit(now, fallback=part.buffer.max_seen)
                released = [] if limit is None else part.buffer.release_to(limit)
                part.tick_sent = False
                held = [event]
            elif wrapped["Kind"] == "watermark":
                part.marks.update(wrapped["From"], wrapped["Time"], now)
                released, held = [], [event]
            else:
                item = wrapped["Item"]
                entry = (item, wrapped, event)
                released = part.buffer.hold(item["EventTime"], rank_of(item, msg.offset), entry)
                held = []
                part.last_input = now
                if part.oldest_wait is None:
                    part.oldest_wait = now
            fallback = None if part.buffer.max_seen is None else part.buffer.max_seen - DEFAULT_WINDOW_MS
            limit = part.marks.limit(now, fallback)
            if limit is not None:
                released += part.buffer.release_to(limit)
            ends = evaluation_points([entry[0] for entry in released], state_of)
            for (item, wrapped_item, source_event), evaluate in zip(released, ends, strict=True):
                await apply(item, wrapped_item["Source"], evaluate)
                held.append(source_event)
            if released:
                part.oldest_wait = time.monotonic() if len(part.buffer) else None
            for finished in held:
                for done in part.acks.finished(finished):
                    await manual.ack(done)

    @app.timer(interval=0.5)
    async def flush_idle_windows() -> None:
        now = time.monotonic()
        for number, part in list(partitions.items()):
            idle = now - part.last_input >= WALL_FLUSH_S
            if part.oldest_wait is not None and not part.tick_sent and idle:
                part.tick_sent = True
                await inputs.send(
                    key=b"tick", value=delivery.dumps({"Kind": "tick"}), partition=number, force=True
                )

    @app.on_partitions_assigned.connect
    async def forget_moved(sender, assigned, **kwargs) -> None:
        """Drop the state of partitions this worker no longer has.

        Not on revocation: faust revokes every partition at each rebalance and keeps reading the
        ones it gets back from where it was, so their waiting inputs would never come again.
        """
        mine = {tp.partition for tp in assigned if tp.topic == topics.agent_inputs}
        for number in [n for n in partitions if n not in mine]:
            partitions.pop(number, None)
