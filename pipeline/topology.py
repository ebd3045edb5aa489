"""The whole pipeline without a broker: the real step objects over in-memory topics and tables.

Kafka Streams' ``TopologyTestDriver``, for our stages: :class:`Topology` runs stage 1
(:class:`~pipeline.core.steps.InteractionStep`) and stage 2 (:class:`~pipeline.core.steps.AgentStep`)
on any number of partitions, assigned to any number of workers, and stages 3 and 4 with the
partitioned statistics (:class:`~pipeline.stats.partials.PartialStats`,
:class:`~pipeline.stats.partials.MergeStats`). Every topic is a list of messages per partition;
keyed messages go to ``crc32(key) % partitions`` (any stable hash keeps one key together).

What it models of the live pipeline, because that is where results could come to depend on
partitioning or on timing:

* **batches and commits where the adapters make them**: a worker takes a batch from its partitions
  of one stage, the steps' outputs are appended to the topics ("delivered"), then the tables are
  written (write-behind: a state read from the table is a decoded copy, as from RocksDB), then the
  inputs are acknowledged (stage 2: only up to the first input still waiting in its reorder
  window). The worker commits the acknowledged offsets after the batch, or (``commit_every``) after
  about every so many batches, as faust's commit timer does: the table writes are flushed first;
* **reassignment**: at chosen points partitions move between workers. A moved partition's step is
  dropped (its reorder window, watermarks, finished-interaction index) and made again from the
  table, and consumption restarts at the committed offset. A move can also come in the middle of a
  batch, after its outputs were delivered and before the table was written (a rebalance during
  the wait for delivery): the outputs are then delivered twice;
* **kills** (``kill_every``: on average one per so many batches): the worker of the batch just run is
  SIGKILLed and starts again on a new disk, each of its tables restored from its changelog. Of each
  partition's writes since the worker's last commit only a prefix survives (a crash cuts a
  changelog short anywhere; the keys of a batch are written in the adapters' order,
  :func:`~pipeline.core.steps.write_order`), its offsets acknowledged since are not committed, and
  its steps are made again from the tables as restored, reading from the committed offsets;
* **interleaving**: a ``random.Random`` chooses which worker and stage runs next and how many
  messages a batch takes from each of its partitions — never reordering one partition;
* **the clock**: the steps' wall clock (:attr:`Topology.now`) stands still while input flows, so
  idleness never releases anything early; at the end of input it moves on, as real time would, and
  stage 1's progress timer and stage 2's ticks run until nothing is left.

Stages 3 and 4 are not moved between workers (their checkpoints are the statistics stage's own).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.core.capacity import CapacityConfig
from pipeline.core.ordering import DEFAULT_WINDOW_MS, Watermarks
from pipeline.core.steps import (
    ACTIONS,
    AGENT_INPUTS,
    LATE,
    STATS_INPUTS,
    TICK,
    AgentStep,
    InteractionStep,
    Message,
    write_order,
)
from pipeline.records.catalog import AGENT_EVENTS
from pipeline.records.keys import interaction_key, partition_of
from pipeline.stats.config import Config

EVENTS = "events"
STAT_PARTIALS = "stat-partials"

#: How far the clock moves at the end of input: past every idle limit of stage 2.
END_OF_INPUT_S = 3600.0


def event_key(event: dict) -> bytes:
    """The raw topic's key: agent events by Tenant/Agent, the others by interaction."""
    if event["Event"] in AGENT_EVENTS and event.get("AgentID"):
        return f"{event['TenantID']}/{event['AgentID']}".encode()
    if event.get("InteractionID"):
        return interaction_key(event).encode()
    return f"{event.get('TenantID')}/{event.get('AgentID')}".encode()


class Topic:
    """One topic: a list of ``(key, value)`` per partition; offsets are list indexes."""

    def __init__(self, partitions: int) -> None:
        self.partitions: list[list[tuple[bytes, Any]]] = [[] for _ in range(max(1, partitions))]

    def append(self, key: bytes, value: Any, partition: int | None = None) -> None:
        n = partition if partition is not None else partition_of(key, len(self.partitions))
        self.partitions[n].append((key, value))


class StoreTable:
    """One partition of a stage's table, write-behind over its durable store (bytes, as RocksDB).

    A step reads decoded copies and changes them in memory; :meth:`write` stores the changed ones
    (after the batch's outputs are delivered); a partition that moves loses what was not written.
    The changed keys are written in :func:`~pipeline.core.steps.write_order`, the adapters' order,
    from a set whose order is arbitrary as theirs is (shuffled by ``rng``); each write goes to
    ``journal`` (key, value before) until a commit, so that a kill can undo the ones after a cut.
    """

    def __init__(
        self,
        store: dict[bytes, bytes],
        journal: list[tuple[bytes, bytes | None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self.rng = rng
        self._cache: dict[bytes, Any] = {}
        self._dirty: set[bytes] = set()

    def get(self, key: bytes) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            raw = self.store.get(key)
            state = self._cache[key] = None if raw is None else orjson.loads(raw)
            return state

    def put(self, key: bytes, value: Any) -> None:
        self._cache[key] = value
        self._dirty.add(key)

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def items(self) -> list[tuple[bytes, Any]]:
        return [(k, orjson.loads(v)) for k, v in self.store.items()]

    def write(self) -> None:
        keys = list(self._dirty)
        if self.rng is not None:
            self.rng.shuffle(keys)
        for key in write_order(keys):
            state = self._cache[key]
            if self.journal is not None:
                self.journal.append((key, self.store.get(key)))
            if state is None:
                self.store.pop(key, None)
                self._cache.pop(key, None)
            else:
                self.store[key] = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)  # as the stages
        self._dirty.clear()


@dataclass
class _Task:
    """One partition of stage 1 or 2 on its worker: the step, its table view, its read position."""

    step: Any
    table: StoreTable
    position: int  # next offset to read


@dataclass
class Run:
    """What a topology run produced."""

    actions: list[dict] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)
    late: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    moves: int = 0


class Topology:
    """Stages 1-4 over in-memory topics: ``events``, ``agent-inputs``, ``stats-inputs``,
    ``stat-partials`` with the given partition counts, partitions of stages 1 and 2 spread over
    ``workers`` workers.

    ``rng`` drives the interleaving, batch sizes and reassignments (``move_every``: on average one
    reassignment per so many batches, 0 for none; ``mid_batch``: the share of moves that come in the
    middle of a batch). Without ``rng`` every stage runs in turn, partition by partition.
    """

    def __init__(
        self,
        config: Config | None = None,
        capacity: CapacityConfig | None = None,
        *,
        events: int = 1,
        agent_inputs: int = 1,
        stats_inputs: int = 1,
        stat_partials: int = 1,
        workers: int = 1,
        rng: random.Random | None = None,
        max_batch: int = 20,
        move_every: int = 0,
        mid_batch: float = 0.3,
        window_ms: int = DEFAULT_WINDOW_MS,
        kill_every: int = 0,
        commit_every: int = 1,
    ) -> None:
        self.config = config
        self.capacity = capacity or (config.capacity if config is not None else CapacityConfig())
        self.rng = rng
        self.max_batch = max_batch
        self.move_every = move_every
        self.mid_batch = mid_batch
        self.window_ms = window_ms
        self.kill_every = kill_every
        self.commit_every = max(1, commit_every)
        self.now = 0.0
        self.topics = {
            EVENTS: Topic(events),
            AGENT_INPUTS: Topic(agent_inputs),
            STATS_INPUTS: Topic(stats_inputs),
            STAT_PARTIALS: Topic(stat_partials),
        }
        self.workers = max(1, workers)
        # (stage topic, partition) → worker; stage 1 reads events, stage 2 agent-inputs.
        self.assignment: dict[tuple[str, int], int] = {}
        for topic in (EVENTS, AGENT_INPUTS):
            for p in range(len(self.topics[topic].partitions)):
                self.assignment[(topic, p)] = self._pick_worker(p)
        self.stores: dict[tuple[str, int], dict[bytes, bytes]] = {k: {} for k in self.assignment}
        self.committed: dict[tuple[str, int], int] = dict.fromkeys(self.assignment, 0)
        # Acknowledged but not yet committed offsets, and the table writes not yet flushed (the
        # value each key had before), per partition: what a kill of its worker loses.
        self.acked: dict[tuple[str, int], int] = {}
        self.journals: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {
            k: [] for k in self.assignment
        }
        self.tasks: dict[tuple[str, int], _Task] = {}
        self.run = Run()
        self._stats_setup(stats_inputs, stat_partials)

    def _pick_worker(self, p: int) -> int:
        return self.rng.randrange(self.workers) if self.rng is not None else p % self.workers

    # -- stages 3 and 4 ---------------------------------------------------------------------------

    def _stats_setup(self, stats_inputs: int, stat_partials: int) -> None:
        self.stats: list[Any] = []
        self.merges: list[Any] = []
        if self.config is None:
            return
        from pipeline.stats.partials import MergeStats, PartialStats

        n = len(self.topics[STATS_INPUTS].partitions)
        self.stats = [PartialStats(self.config, p, n, self.window_ms) for p in range(n)]
        if n > 1:
            self.merges = [MergeStats(self.config, n) for _ in range(stat_partials)]
        sources = len(self.topics[AGENT_INPUTS].partitions)
        self._stats_marks = [Watermarks(sources, self.window_ms) for _ in range(n)]
        self._stats_pos = [0] * n
        self._merge_pos = [0] * len(self.merges)
        self._stats_low: list[int | None] = [None] * n

    def _stats_batch(self, p: int, count: int) -> None:
        messages = self.topics[STATS_INPUTS].partitions[p]
        stats, marks = self.stats[p], self._stats_marks[p]
        end = min(len(messages), self._stats_pos[p] + count)
        for _, value in messages[self._stats_pos[p]:end]:
            if value["Kind"] == "actions":
                for action in value["Actions"]:
                    self.run.stats += stats.push(action)[1]
            elif value["Kind"] == "watermark":
                marks.update(value["From"], value["Time"], self.now)
                low = marks.lowest()
                if low is not None and (self._stats_low[p] is None or low > self._stats_low[p]):
                    self._stats_low[p] = low
                    self.run.stats += stats.release_to(low)[1]
                    self._send_partials(p, low)
        self._stats_pos[p] = end
        self._send_partials(p, None)

    def _send_partials(self, p: int, watermark: int | None) -> None:
        if not self.merges:
            return
        topic = self.topics[STAT_PARTIALS]
        for update in self.stats[p].take_partials():
            topic.append(update["Key"].encode(), {"Kind": "update", "Update": update})
        if watermark is not None:
            for m in range(len(self.merges)):
                topic.append(b"watermark", {"Kind": "watermark", "From": p, "Time": watermark}, partition=m)

    def _merge_batch(self, m: int, count: int) -> None:
        messages = self.topics[STAT_PARTIALS].partitions[m]
        merge = self.merges[m]
        end = min(len(messages), self._merge_pos[m] + count)
        for _, value in messages[self._merge_pos[m]:end]:
            if value["Kind"] == "update":
                self.run.stats += merge.push(value["Update"])[1]
            else:
                self.run.stats += merge.watermark(value["From"], value["Time"])[1]
        self._merge_pos[m] = end

    # -- stages 1 and 2 ---------------------------------------------------------------------------

    def _task(self, where: tuple[str, int]) -> _Task:
        task = self.tasks.get(where)
        if task is None:
            topic, p = where
            table = StoreTable(self.stores[where], self.journals[where], self.rng)
            if topic == EVENTS:
                step: Any = InteractionStep(
                    p, table, topic=EVENTS,
                    agent_partitions=len(self.topics[AGENT_INPUTS].partitions),
                    stats_partitions=len(self.topics[STATS_INPUTS].partitions),
                    counts=self.run.counts,
                )
            else:
                step = AgentStep(
                    p, table, self.capacity, topic=AGENT_INPUTS,
                    sources=len(self.topics[EVENTS].partitions),
                    stats_partitions=len(self.topics[STATS_INPUTS].partitions),
                    window_ms=self.window_ms, now=self.now, counts=self.run.counts,
                )
            task = self.tasks[where] = _Task(step, table, self.committed[where])
        return task

    def _deliver(self, messages: Iterable[Message]) -> None:
        for m in messages:
            if m.kind == ACTIONS:
                self.run.actions.append(m.value)
            elif m.kind == LATE:
                self.run.late.append(m.value)
            else:
                self.topics[m.kind].append(m.key, m.value, m.partition)

    def _batch(self, worker: int, topic: str, take: dict[int, int]) -> None:
        """One batch of ``worker`` on its partitions of ``topic``: ``take`` = partition → messages."""
        out: list[Message] = []
        acked: dict[int, int] = {}  # partition → new committed offset
        touched: list[tuple[str, int]] = []
        order = [p for p, n in take.items() for _ in range(n)]
        if self.rng is not None:
            self.rng.shuffle(order)  # partitions interleave in a batch; each keeps its order
        for p in order:
            where = (topic, p)
            task = self._task(where)
            messages = self.topics[topic].partitions[p]
            if task.position >= len(messages):
                continue
            offset = task.position
            task.position += 1
            _, value = messages[offset]
            if where not in touched:
                touched.append(where)
            if topic == EVENTS:
                out += task.step.step(offset, value, self.committed[where])
                acked[p] = offset + 1
            else:
                result = task.step.step(offset, value, self.now)
                out += result.messages
                if result.finished:
                    acked[p] = result.finished[-1] + 1
        for where in touched:
            out += self.tasks[where].step.end_batch()
        self._deliver(out)
        rng, every = self.rng, self.move_every
        if touched and rng is not None and every and rng.random() < self.mid_batch / every:
            # A rebalance while the batch waited for delivery: nothing written, nothing committed.
            self._move(rng.choice(touched), mid_batch=True)
            touched = [w for w in touched if w in self.tasks]
        for where in touched:
            self.tasks[where].table.write()
            if where[1] in acked:
                self.acked[where] = max(self.acked.get(where, 0), acked[where[1]])
        if self.rng is None or self.commit_every == 1 or self.rng.random() < 1 / self.commit_every:
            self._commit(worker)
        if touched and rng is not None and self.kill_every and rng.random() < 1 / self.kill_every:
            self.kill(worker)

    def _commit(self, worker: int) -> None:
        """``worker`` flushes its table writes, then commits its acknowledged offsets (as faust does:
        the producer is flushed before the offsets are committed)."""
        for where, owner in self.assignment.items():
            if owner != worker:
                continue
            self.journals[where].clear()
            if where in self.acked:
                self.committed[where] = max(self.committed[where], self.acked.pop(where))

    def kill(self, worker: int) -> None:
        """SIGKILL ``worker`` and start it again on a new disk: of each of its partitions' table writes
        since its last commit, only a random prefix reached the changelog (the rest is lost), its
        offsets acknowledged since then are not committed, and every step it ran is made again from
        the table as restored, reading from the committed offset."""
        rng = self.rng or random.Random(0)
        for where, owner in self.assignment.items():
            if owner != worker:
                continue
            journal, store = self.journals[where], self.stores[where]
            cut = rng.randint(0, len(journal))
            for key, before in reversed(journal[cut:]):
                if before is None:
                    store.pop(key, None)
                else:
                    store[key] = before
            journal.clear()
            self.acked.pop(where, None)
            self.tasks.pop(where, None)
        self.run.counts["kills"] += 1

    def _move(self, where: tuple[str, int], mid_batch: bool = False) -> None:
        """``where`` moves to another worker: its step and unwritten state are gone; the new owner
        starts from the table (every write the old owner made reaches the changelog: it lives on)
        and the committed offset."""
        self.tasks.pop(where, None)
        self.journals[where].clear()
        self.assignment[where] = self._pick_worker(where[1] + 1)
        self.run.moves += 1
        self.run.counts["moves-mid-batch" if mid_batch else "moves"] += 1

    # -- driving ----------------------------------------------------------------------------------

    def feed(self, events: Iterable[dict]) -> None:
        """Put validated events on the raw topic, keyed as a bridge would."""
        topic = self.topics[EVENTS]
        for event in events:
            topic.append(event_key(event), event)

    def _pending(self) -> list[tuple[str, int]]:
        """(stage, partition) with unread input."""
        out = []
        for where in self.assignment:
            task = self.tasks.get(where)
            position = task.position if task is not None else self.committed[where]
            if position < len(self.topics[where[0]].partitions[where[1]]):
                out.append(where)
        for p, messages in enumerate(self.topics[STATS_INPUTS].partitions if self.stats else []):
            if self._stats_pos[p] < len(messages):
                out.append((STATS_INPUTS, p))
        for m, messages in enumerate(self.topics[STAT_PARTIALS].partitions if self.merges else []):
            if self._merge_pos[m] < len(messages):
                out.append((STAT_PARTIALS, m))
        return out

    def _size(self) -> int:
        return self.rng.randint(1, self.max_batch) if self.rng is not None else self.max_batch

    def step_once(self) -> bool:
        """Run one batch somewhere; False when no input is left anywhere."""
        pending = self._pending()
        if not pending:
            return False
        where = self.rng.choice(pending) if self.rng is not None else pending[0]
        topic, p = where
        if topic == STATS_INPUTS:
            self._stats_batch(p, self._size())
        elif topic == STAT_PARTIALS:
            self._merge_batch(p, self._size())
        else:
            worker = self.assignment[where]
            mine = [w for w in pending if w[0] == topic and self.assignment.get(w) == worker]
            take = {w[1]: self._size() if w == where or self.rng is None or self.rng.random() < 0.5 else 0
                    for w in mine}
            self._batch(worker, topic, take)
        if self.rng is not None and self.move_every and self.rng.random() < 1 / self.move_every:
            self._move(self.rng.choice(list(self.assignment)))
        return True

    def drain(self) -> None:
        while self.step_once():
            pass

    def end_of_input(self) -> None:
        """Time passes with no new input: stage 1's progress timer, stage 2's ticks, until quiet."""
        for _ in range(100):
            self.now += END_OF_INPUT_S
            for where in [w for w in self.assignment if w[0] == EVENTS]:
                self._deliver(self._task(where).step.end_batch(force=True))
            for where in [w for w in self.assignment if w[0] == AGENT_INPUTS]:
                if self._task(where).step.wants_tick(self.now):
                    self.topics[AGENT_INPUTS].append(b"tick", dict(TICK), partition=where[1])
            if not self._pending():
                break
            self.drain()

    def finish(self, until: int | None = None) -> Run:
        """End of input: statistics flushed (everything applied), then Finals at ``until``."""
        self.end_of_input()
        if self.stats:
            for p, stats in enumerate(self.stats):
                self.run.stats += stats.flush()[1]
                self._send_partials(p, None)
            self.drain()
            for merge in self.merges:
                self.run.stats += merge.flush()[1]
            if until is not None:
                for stats in self.stats:
                    self.run.stats += stats.finals(until)
                for merge in self.merges:
                    self.run.stats += merge.finals(until)
        return self.run

    def run_events(self, events: list[dict], until: int | None = None) -> Run:
        """Feed ``events``, run everything, finish (Finals at ``until``, default the last EventTime)."""
        self.feed(events)
        self.drain()
        if until is None and events:
            until = max(e["EventTime"] for e in events)
        return self.finish(until)
