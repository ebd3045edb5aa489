"""Stages 1 and 2 as pure step objects: ``(input, state) → (outputs, state)``, one per partition.

The pipeline is wired once, here. Replay (:class:`pipeline.core.driver.CoreDriver`), the
broker-free topology driver (:mod:`pipeline.topology`) and the Faust adapters
(:mod:`pipeline.stream.interactions`, :mod:`pipeline.stream.agents`) all run these objects; the
adapters only decode, call a step, encode and produce its messages, await their delivery, write the
table and acknowledge the inputs the step reports finished.

A step's state has two parts:

* the **table** (:class:`Table`: ``get/put/delete`` by key, ``items()``): a dict in replay and the
  tests, the faust RocksDB table (through ``WriteBehind``) live. It is the truth, and it survives a
  crash or a move of the partition to another worker;
* the step's **in-memory part** (reorder window, watermarks, the index of finished interactions,
  which inputs wait for acknowledgement): dropped when the partition moves and rebuilt from the
  table by making a new step, while consumption restarts at the committed offset. Inputs whose
  effects are already in the table are recognised by their source position
  (:mod:`pipeline.core.redelivery`) and skipped.

Outputs are plain data (:class:`Message`: a topic kind, a key, a value object, an optional explicit
partition), so the same step serves a Kafka producer and an in-memory topic. The clock is passed in
(``now``, seconds), never read here: a test controls it.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

from pipeline.core.agents import AgentResult, apply_input, evaluate_pending, evaluation_points
from pipeline.core.capacity import CapacityConfig
from pipeline.core.interactions import track
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer, Watermarks, rank_of
from pipeline.core.redelivery import OffsetAcks, last_offset, remember, seen, source_position
from pipeline.records.catalog import AGENT_EVENTS, IGNORED_EVENTS
from pipeline.records.keys import action_key, agent_key, interaction_key
from pipeline.records.late import stage2_late

# Topic kinds a step writes to (the adapters map them to ``<prefix>.<kind>`` topic names).
ACTIONS = "actions"
AGENT_INPUTS = "agent-inputs"
STATS_INPUTS = "stats-inputs"
LATE = "late"

#: How long a finished interaction is kept to absorb trailing events without anomalies.
DEFAULT_RETENTION_MS = 3_600_000

#: Stage 1 announces a partition's progress after this much event time or this many messages.
#: Stage 2 releases its window only as these watermarks come, so live (event time moving with the
#: wall clock) the step is added to every action's wait: at 1,000 ms, raw event → action took
#: the window plus 0.5 s at the median (the bench's ``latency-floor`` row). On a backlog a batch
#: moves event time further than this anyway, so the step changes nothing there.
WATERMARK_STEP_MS = 200
WATERMARK_EVERY = 200

#: Stage 2's table entry (per partition) of the upstream watermarks it has received (no agent key
#: starts with a NUL). A partition opened afresh — after a restart or a move — may never read those
#: watermark messages again (they can lie below the committed offset); without them it would hold
#: its inputs until every upstream partition spoke again, or went idle.
MARKS_KEY = b"\x00watermarks"


def write_order(keys: Iterable[bytes]) -> list[bytes]:
    """The order in which a batch's changed table entries must be written: the states first, then
    the step's own entries (keys starting with NUL: stage 2's upstream marks).

    A table survives a crash through its changelog, one Kafka partition per input partition, and a
    crash can cut a batch's writes short anywhere: what survives is a prefix. Written before the
    states, restored marks could be ahead of the states: after the restart they release at once
    every redelivered input they cover, one by one in offset order instead of in event-time order
    with the others of their instant, and the agent state goes wrong (an action made again,
    differently). Written last, marks that survive have every state of their batch with them.
    The order of the others is kept.
    """
    keys = list(keys)
    return [k for k in keys if not k.startswith(b"\x00")] + [k for k in keys if k.startswith(b"\x00")]

#: Stage 2: a partition without input for this long (seconds of the step's clock) asks for a tick;
#: with several upstream partitions, one silent for ``MULTI_SOURCE_IDLE_S`` stops holding the
#: others back (it may only be paused for a rebalance, so give it time).
WALL_FLUSH_S = 2.0
MULTI_SOURCE_IDLE_S = 30.0


class Table(Protocol):
    """The durable state of one partition of a stage: JSON-like values by key."""

    def get(self, key: bytes) -> Any: ...

    def put(self, key: bytes, value: Any) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def items(self) -> Iterable[tuple[bytes, Any]]: ...


class DictTable:
    """A :class:`Table` in a dict (replay, tests, the topology driver)."""

    def __init__(self, data: dict[bytes, Any] | None = None) -> None:
        self.data: dict[bytes, Any] = {} if data is None else data

    def get(self, key: bytes) -> Any:
        return self.data.get(key)

    def put(self, key: bytes, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, Any]]:
        return iter(list(self.data.items()))


@dataclass(frozen=True)
class Message:
    """One output: to topic ``kind``, keyed ``key`` (or to ``partition`` when given)."""

    kind: str
    key: bytes
    value: Any
    partition: int | None = None


@dataclass
class Outputs:
    """What one input produced: messages in production order, and the input offsets now finished
    (safe to acknowledge, in offset order)."""

    # a list, or an iterator that applies as it is read (``AgentStep.iter_step``)
    messages: list[Message] | Iterator[Message] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


#: A stats-inputs bundle holds at most this many actions (about 150 KB of JSON at most, well under a
#: Kafka message): a release of a whole instant (148,000 actions at the shift's end of 10,000 agents)
#: leaves in bundles of this size as it is applied, never as one list.
BUNDLE_ACTIONS = 250


def bundle_value(actions: list[dict]) -> dict:
    """One stats-inputs message: actions a step made (stage 3 reads them as one message)."""
    return {"Kind": "actions", "Actions": actions}


class StatsBundles:
    """The actions a step sends to stage 3, gathered over a batch into few messages (*bundles*),
    where each action also goes to the public actions topic alone.

    Stage 3 is a faust agent, and faust's cost is per message consumed (about 7,000 a second on one
    core, before any work): a bundle per input of stages 1 and 2 was still about one message per
    event. With one stats-inputs partition (the default) a batch's actions (up to 1,000 inputs, or
    50 ms) go in one bundle; with several, in one bundle per object, keyed by it as each action was
    before (the producer's partitioner places it, so an object stays in the partition that holds its
    statistics, across upgrades too). A bundle goes out when it holds :data:`BUNDLE_ACTIONS`, and
    the rest at the batch's end (:meth:`take`), before the step's watermark: a watermark never
    passes an action still gathered. Crash safety is unchanged: a step's states are written only
    after everything its batch produced is delivered, so a crash before that loses the gathered
    actions with the states that made them, and the inputs come again.

    ``partitions=0``: nothing downstream reads them (replay's driver); nothing is gathered.
    """

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.pending: dict[bytes | None, list[dict]] = {}  # by object key (None: one partition)

    def add(self, actions: list[dict], out: list[Message]) -> None:
        """Gather ``actions``; a bundle that is full is appended to ``out`` at once."""
        n = self.partitions
        if not n:
            return
        pending = self.pending
        for action in actions:
            key = None if n == 1 else action_key(action)
            held = pending.get(key)
            if held is None:
                held = pending[key] = []
            held.append(action)
            if len(held) >= BUNDLE_ACTIONS:
                out.append(_bundle(pending.pop(key)))

    def take(self) -> list[Message]:
        """Every bundle gathered since the last call (the batch's end), in the order first gathered."""
        if not self.pending:
            return []
        out = [_bundle(actions) for actions in self.pending.values()]
        self.pending = {}
        return out


def _bundle(actions: list[dict]) -> Message:
    """A stats-inputs message of ``actions``, keyed by the first one's object."""
    return Message(STATS_INPUTS, action_key(actions[0]), bundle_value(actions))


def _action_messages(actions: list[dict], bundles: StatsBundles) -> list[Message]:
    """Each action on the public actions topic; all of them gathered for stage 3 (``bundles``)."""
    out = [Message(ACTIONS, action_key(a), a) for a in actions]
    bundles.add(actions, out)
    return out


# --- stage 1 ---------------------------------------------------------------------------------------


class InteractionStep:
    """Stage 1 on one partition of the raw events topic: validated events → interaction states.

    Agent events pass through to stage 2 (keyed by Tenant/Agent); interaction events are applied
    to the partition's interaction states (``track``), their Queue actions go to the actions and
    stats-inputs topics and their agent bundles to stage 2. After a batch, :meth:`end_batch`
    announces to every stage-2 partition how far this partition has got in event time
    (the watermark), after the outputs it covers.

    Finished interactions are deleted once their retention has passed, and only once every input
    the state holds is committed (``committed``: the partition's committed offset, passed in by the
    caller): otherwise a crash would redeliver those inputs to an empty state, which would take
    them for a new interaction. The order of deletion is an index in memory, rebuilt from the
    table's own entries when the step is made (so make it when every state of the partition is in
    the table: at the start of a batch).
    """

    def __init__(
        self,
        partition: int,
        table: Table,
        *,
        topic: str = "events",
        agent_partitions: int = 1,
        stats_partitions: int = 1,
        retention_ms: int = DEFAULT_RETENTION_MS,
        counts: Counter | None = None,
        watermark_step_ms: int = WATERMARK_STEP_MS,
        watermark_every: int = WATERMARK_EVERY,
    ) -> None:
        self.partition = partition
        self.table = table
        self.topic = topic
        self.agent_partitions = max(1, agent_partitions)
        self.stats_partitions = max(0, stats_partitions)
        self.bundles = StatsBundles(self.stats_partitions)
        self.retention_ms = retention_ms
        self.counts: Counter = Counter() if counts is None else counts
        self.watermark_step_ms = watermark_step_ms
        self.watermark_every = watermark_every
        self.resumed_at: int | None = None  # first offset handled by this step
        self.latest: int | None = None  # largest event time finished
        self._announced: int | None = None  # the last watermark announced
        self._since = 0  # inputs finished since it
        self.finished = self._rebuild(table.items())

    @staticmethod
    def _rebuild(entries: Iterable[tuple[bytes, Any]]) -> deque[tuple[int, bytes]]:
        found = []
        for key, state in entries:
            stopped_at = state.get("stopped_at") if isinstance(state, dict) else None
            if stopped_at is not None:
                found.append((stopped_at, bytes(key)))
        found.sort()
        return deque(found)

    def step(self, offset: int, record: dict, committed: int | None = None) -> list[Message]:
        """One validated event at ``offset``; returns its messages (the input is finished with them).

        ``committed``: the partition's committed offset (every input below it is durable), which
        decides whether finished interactions may be deleted yet.
        """
        if self.resumed_at is None:
            self.resumed_at = offset
        name = record["Event"]
        if name in IGNORED_EVENTS:
            self.counts["ignored"] += 1
            return []
        source = source_position(self.topic, self.partition, offset)
        if name in AGENT_EVENTS:
            self._progress(record["EventTime"])
            item = {"Kind": "event", "Source": source, "Item": record}
            return [Message(AGENT_INPUTS, agent_key(record["TenantID"], record["AgentID"]).encode(), item)]
        key = interaction_key(record).encode()
        state = self.table.get(key)
        if seen(state, source):
            self.counts["redelivered"] += 1
            return []
        state, result = track(state, record)
        remember(state, source)
        self.table.put(key, state)
        if result.duplicate:
            self.counts["duplicates"] += 1
            return []
        for kind in result.anomalies:
            self.counts["anomaly:" + kind] += 1
        out = _action_messages(result.queue_actions, self.bundles) if result.queue_actions else []
        for bundle in result.bundles:
            item = {"Kind": "bundle", "Source": f"{source}/{bundle['AgentID']}", "Item": bundle}
            out.append(Message(AGENT_INPUTS, agent_key(bundle["TenantID"], bundle["AgentID"]).encode(), item))
        self.counts["actions"] += len(result.queue_actions)
        if name == "EventProcessingStopped":
            self._add_finished(state["stopped_at"], key)
        self._progress(record["EventTime"])
        self._expire(record["EventTime"], committed)
        return out

    def _progress(self, event_time: int) -> None:
        self.latest = event_time if self.latest is None else max(self.latest, event_time)
        self._since += 1

    def end_batch(self, force: bool = False) -> list[Message]:
        """After a batch: the stage-3 bundles it gathered (:class:`StatsBundles`), then the watermark
        (or, ``force``, whenever there is news: a quiet partition's last progress), to every stage-2
        partition, when it is due: :meth:`take_bundles` followed by :meth:`announce`.

        ``force`` comes from a timer, which can run while the stage awaits in the middle of a batch
        (a dead letter): then the batch's bundles are still gathering, and are not the timer's to
        send — the batch awaits the delivery of its own outputs before it writes its states, not of
        the timer's — nor may a watermark pass them. The batch's own end announces.
        """
        if force and self.bundles.pending:
            return []
        return self.take_bundles() + self.announce(force)

    def take_bundles(self) -> list[Message]:
        """The stage-3 bundles the batch gathered (its Queue actions), to send with its outputs."""
        return self.bundles.take()

    def announce(self, force: bool = False) -> list[Message]:
        """The watermark, to every stage-2 partition, when it is due (``force``: whenever there is
        news). It promises that every output of the inputs it covers is on its topic, stage 3's
        Queue actions included, so a stage sends it once those are acknowledged: stage 2 of
        another worker answers it with a watermark of its own to stage 3 (on another producer),
        which must not overtake them. Nothing while bundles are still gathering (see
        :meth:`end_batch`)."""
        if self.bundles.pending:
            return []
        high, last = self.latest, self._announced
        if high is None:
            return []
        if force:
            due = last is None or high != last
        else:  # also the same time again after many inputs: it keeps the partition active
            due = last is None or high - last >= self.watermark_step_ms or self._since >= self.watermark_every
        if not due:
            return []
        self._announced, self._since = high, 0
        mark = {"Kind": "watermark", "From": self.partition, "Time": high}
        return [Message(AGENT_INPUTS, b"watermark", mark, partition=n) for n in range(self.agent_partitions)]

    def _add_finished(self, stopped_at: int, key: bytes) -> None:
        queue = self.finished
        if queue and queue[-1] > (stopped_at, key):  # interactions of a partition stop out of order
            bisect.insort(queue, (stopped_at, key))
        else:
            queue.append((stopped_at, key))

    def _expire(self, now: int, committed: int | None) -> None:
        """Forget finished interactions once their retention has passed (bounded state)."""
        queue = self.finished
        # Inputs below the first offset this step handled were committed before it was made.
        safe_below = max(-1 if committed is None else committed, self.resumed_at or 0)
        while queue and queue[0][0] + self.retention_ms <= now:
            stopped_at, key = queue[0]
            state = self.table.get(key)
            if state is not None and state.get("stopped_at") == stopped_at:
                if last_offset(state) >= safe_below:
                    return  # not yet safe; try again on a later input
                self.table.delete(key)
            queue.popleft()


# --- stage 2 ---------------------------------------------------------------------------------------


class AgentStep:
    """Stage 2 on one partition of agent-inputs: reorder window → agent/place states → actions.

    Inputs (agent events and stage 1's bundles) wait in the reorder window until the watermarks
    stage 1 announces for each of its partitions have passed their event time by the window; then
    they are applied in event-time order and their actions go to the actions and stats-inputs
    topics. ``release="clock"`` is replay's rule instead: one upstream in file order, an input is
    released once the event clock (the largest time seen) has passed it by the window.

    A *tick* input (sent when :meth:`wants_tick` says so) releases what the watermarks allow after
    a quiet spell, and everything once every upstream partition is idle. :meth:`end_batch` gives
    the watermark for stage 3: every action at or before it is already produced.
    """

    def __init__(
        self,
        partition: int,
        table: Table,
        capacity: CapacityConfig,
        *,
        topic: str = "agent-inputs",
        sources: int = 1,
        stats_partitions: int = 1,
        window_ms: int = DEFAULT_WINDOW_MS,
        release: str = "watermarks",
        now: float = 0.0,
        idle_s: float | None = None,
        counts: Counter | None = None,
    ) -> None:
        if release not in ("watermarks", "clock"):
            raise ValueError(f"release must be 'watermarks' or 'clock', not {release!r}")
        self.partition = partition
        self.table = table
        self.capacity = capacity
        self.topic = topic
        self.stats_partitions = max(0, stats_partitions)
        self.bundles = StatsBundles(self.stats_partitions)
        self.clock_release = release == "clock"
        self.buffer = ReorderBuffer(window_ms)
        if idle_s is None:
            idle_s = WALL_FLUSH_S if sources == 1 else MULTI_SOURCE_IDLE_S
        self.marks = Watermarks(sources, window_ms, idle_s=idle_s, started=now)
        if not self.clock_release:
            for source, mark in (table.get(MARKS_KEY) or {}).items():
                self.marks.update(int(source), mark, now)
        self.counts: Counter = Counter() if counts is None else counts
        self.acks = OffsetAcks()
        self.oldest_wait: float | None = None  # when the oldest waiting input arrived
        self.tick_sent = False
        self.last_input = now
        self.mark_sent: int | None = None  # the last watermark announced to stage 3
        self._mark: int | None = None  # the watermark due at the end of this batch

    # -- input ----------------------------------------------------------------------------------

    def step(self, offset: int, wrapped: dict, now: float) -> Outputs:
        """One input message at ``offset`` (decoded); ``now``: the wall clock, in seconds."""
        out = self.iter_step(offset, wrapped, now)
        out.messages = list(out.messages)
        return out

    def iter_step(self, offset: int, wrapped: dict, now: float) -> Outputs:
        """:meth:`step` whose ``messages`` is an iterator: each input released is applied only as
        the messages before it have been read (:meth:`_iter_apply`). The worker's stage hands each
        message to the producer as it comes: one watermark can release a whole instant (148,000
        actions at the shift's end of 10,000 agents), which as one list was a peak of its memory.
        Read ``messages`` to the end before the next input; ``finished`` is complete at once."""
        if self.clock_release:
            return self._step_on_clock(offset, wrapped)
        out = Outputs()
        self.acks.received(offset)
        buffer = self.buffer
        kind = wrapped["Kind"]
        mark: int | None
        if kind == "tick":
            # Quiet for a while: release what the watermarks allow, everything once every upstream
            # partition is idle too.
            limit = self.marks.limit(now, fallback=buffer.max_seen)
            released = [] if limit is None else buffer.release_to(limit)
            self.tick_sent = False
            done = [offset]
            mark = limit
            high = self.marks.highest()
            if self.marks.idle(now) and not len(buffer) and high is not None:
                mark = high if mark is None else max(mark, high)  # the end of the input so far
        elif kind == "watermark":
            self.marks.update(wrapped["From"], wrapped["Time"], now)
            # Written with the states it covers, after them (write_order).
            self.table.put(MARKS_KEY, self.marks.marks())
            released, done, mark = [], [offset], None
        elif kind == "hold":  # stage 1: that partition has input unread (Watermarks.hold)
            self.marks.hold(wrapped["From"], now)
            released, done, mark = [], [offset], None
        elif self._applied(wrapped):
            # Applied before a crash or a move (its source is in the agent's state): finished at
            # once, neither held nor reported late.
            self.counts["redelivered"] += 1
            released, done, mark = [], [offset], None
        else:
            item = wrapped["Item"]
            before = buffer.late
            entry = (item, wrapped["Source"], offset)
            released = buffer.hold(item["EventTime"], rank_of(item, offset), entry)
            if buffer.late > before:
                self.counts["late"] += 1
                if buffer.released_to is not None:
                    record = stage2_late(item, buffer.released_to, int(now * 1000), wrapped.get("Source"))
                    out.messages.append(Message(LATE, record["LateID"].encode(), record))
            done = []
            self.last_input = now
            if self.oldest_wait is None:
                self.oldest_wait = now
            mark = None
        fallback = None if buffer.max_seen is None else buffer.max_seen - buffer.window_ms
        limit = self.marks.limit(now, fallback)
        if limit is not None:
            released += buffer.release_to(limit)
            mark = limit if mark is None else max(mark, limit)
        done += [entry[2] for entry in released]
        if released:
            out.messages = chain(out.messages, self._iter_apply(released))
            self.oldest_wait = now if len(buffer) else None
        for d in done:
            out.finished += self.acks.finished(d)
        if mark is not None:
            self._mark = mark if self._mark is None else max(self._mark, mark)
        return out

    def _applied(self, wrapped: dict) -> bool:
        """Is this input already in its agent's state, with no evaluation left pending?"""
        state = self._state_of(wrapped["Item"])
        return seen(state, wrapped["Source"]) and not state.get("_eval")

    def _step_on_clock(self, offset: int, wrapped: dict) -> Outputs:
        """Replay's rule: the event clock releases; stage 1's watermark only moves that clock."""
        out = Outputs()
        out.messages.extend(self.iter_step_on_clock(offset, wrapped))
        out.finished = [offset]
        return out

    def iter_step_on_clock(self, offset: int, wrapped: dict) -> Iterator[Message]:
        """:meth:`step` on the event clock (``release="clock"``) for a caller that hands each message
        on (replay's driver): the window releases at once, and each input released is applied only
        as the messages before it have been read (:meth:`_iter_apply`)."""
        buffer = self.buffer
        if wrapped["Kind"] == "watermark":
            buffer.observe(wrapped["Time"])
            released = buffer.ready()
        elif wrapped["Kind"] in ("tick", "hold"):
            released = []
        else:
            item = wrapped["Item"]
            entry = (item, wrapped["Source"], offset)
            released = buffer.push(item["EventTime"], rank_of(item, offset), entry)
        self.counts["late"] = buffer.late
        return self._iter_apply(released)

    def flush(self) -> list[Message]:
        """End of input (replay): apply everything still held in the window."""
        return list(self.iter_flush())

    def iter_flush(self) -> Iterator[Message]:
        """:meth:`flush`, each input applied only as its messages are read (:meth:`_iter_apply`)."""
        return self._iter_apply(self.buffer.flush())

    # -- applying ---------------------------------------------------------------------------------

    def _state_of(self, item: dict) -> dict | None:
        return self.table.get(agent_key(item["TenantID"], item["AgentID"]).encode())

    def _iter_apply(self, released: list[tuple[dict, str, int]]) -> Iterator[Message]:
        """Apply released inputs in order, each only as the messages before it have been read.

        A release can hold a whole instant: every agent logging out at the end of a shift is
        148,000 actions at 10,000 agents. Replay hands each action on as it is made (to its file and
        to stage 3), so it never holds them all at once as one list did. The inputs are already out
        of the window: a caller reads the iterator to the end, or the rest is never applied.
        """
        if not released:
            return
        ends = evaluation_points([entry[0] for entry in released], self._state_of)
        for (item, source, _), evaluate in zip(released, ends, strict=True):
            out: list[Message] = []
            self._apply_one(item, source, evaluate, out)
            yield from out

    def _apply_one(self, item: dict, source: str, evaluate: bool, out: list[Message]) -> None:
        key = agent_key(item["TenantID"], item["AgentID"]).encode()
        state = self.table.get(key)
        if seen(state, source):
            self.counts["redelivered"] += 1
            if not (evaluate and state.get("_eval")):
                return
            result = evaluate_pending(state, self.capacity, AgentResult())
        else:
            state, result = apply_input(state, item, self.capacity, evaluate)
        self.counts["duplicates"] += result.duplicate
        for kind in result.anomalies:
            self.counts["anomaly:" + kind] += 1
        if result.actions:
            out += _action_messages(result.actions, self.bundles)
        self.counts["actions"] += len(result.actions)
        remember(state, source)
        self.table.put(key, state)

    # -- batch end and quiet spells ---------------------------------------------------------------

    def end_batch(self) -> list[Message]:
        """After a batch: the stage-3 bundles it gathered (:class:`StatsBundles`), then the watermark
        for stage 3 (to every stats-inputs partition) if it moved — after them: every action at or
        before it is on its way."""
        out = self.bundles.take()
        mark, self._mark = self._mark, None
        if mark is None or (self.mark_sent is not None and mark <= self.mark_sent):
            return out
        self.mark_sent = mark
        value = {"Kind": "watermark", "From": self.partition, "Time": mark}
        return out + [Message(STATS_INPUTS, b"watermark", value, partition=n)
                      for n in range(self.stats_partitions)]

    def behind(self) -> bool:
        """Upstream has announced more than the last watermark sent to stage 3 covers."""
        high = self.marks.highest()
        return high is not None and (self.mark_sent is None or self.mark_sent < high)

    def wants_tick(self, now: float) -> bool:
        """Should a tick be sent to this partition now? (Quiet for :data:`WALL_FLUSH_S` with input
        waiting, or behind an idle upstream.) Marks the tick sent; the tick input clears it."""
        idle = now - self.last_input >= WALL_FLUSH_S
        waiting = self.oldest_wait is not None or (self.behind() and self.marks.idle(now))
        if waiting and not self.tick_sent and idle:
            self.tick_sent = True
            return True
        return False


#: A tick input (stage 2 asks for one through :meth:`AgentStep.wants_tick`).
TICK: dict = {"Kind": "tick"}


def released_actions(messages: Iterable[Message]) -> list[dict]:
    """The action records among ``messages``, in order."""
    return [m.value for m in messages if m.kind == ACTIONS]

