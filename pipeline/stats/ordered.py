"""Stage 3's pure core: actions → held in event-time order → released by watermarks → engine.

Actions reach stage 3 interleaved in an order that depends on timing: Queue actions leave stage 1
at once, agent actions wait in stage 2's reorder window, and on Kafka stage 1 may run far ahead of
stage 2. The engine's clock is the largest time it has applied, and Sliding, Time and clock-moved
values are evaluated when that clock crosses a boundary, so the engine must see the actions in one
order that does not depend on that timing. Stage 3 therefore holds every action and applies it
only when its producers have declared that nothing at or before its time is still to come
(:meth:`OrderedStats.release_to`, driven by stage 2's watermarks live and by the driver's clock in
replay), in ``EventTime`` order and at equal times in :func:`~pipeline.core.ordering.action_rank`
order. Replay and the Faust stage both drive this class, so their statistic records are the same.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import chain, islice
from typing import Any

import orjson

from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer, action_rank
from pipeline.stats.config import Config
from pipeline.stats.engine import StatEngine
from pipeline.stats.rows import Row, as_records, batched, iter_records

#: The newest this many applied ActionIDs (in the order applied) are remembered to drop a repeat of
#: one; when a quarter more are held, the older ones are forgotten. A repeat comes from an upstream
#: stage made again after a crash, which sends again what it had sent since its last commit: it
#: follows its original by a span of processing (seconds, a few commit intervals), not of event
#: time. 100,000 actions are about 10 s of one worker's actions at 1,500 events/s.
#:
#: Event time is no measure of that span. Kept for an hour of event time alone, ids were forgotten
#: when event time jumped (a backlog whose input resumes hours later, a day followed by another
#: tenant's events) while repeats were still on their way, and they counted twice (a kill test's
#: queue counts one to five too high); and an hour at production rates is millions of ids (5.6
#: million at the 1,560 actions/s of 10,000 agents, about 800 MB per stage-3 partition).
DEDUP_KEEP = 100_000

#: Once this many actions are held, the next ones are held as their JSON text and decoded again
#: when applied. A watermark can hold back a whole instant: the shift's end of 10,000 agents is
#: 148,000 actions, each a dict of 14 fields with its own id and times (nine to ten allocations),
#: and they made most of the jump to a worker's peak memory (1.35 million more allocated blocks in
#: about 3 s). As text an action is one allocation of about 350 bytes. Below the bound nothing is
#: encoded: the ordinary flow holds a few hundred actions and pays nothing for it.
PACK_ABOVE = 4096

#: An action's fields whose values repeat from one action to the next (names, kinds, ids of agents,
#: places, tenants, media): :func:`shared_strings` keeps one string object per value.
SHARED_FIELDS = ("Action", "Kind", "Phase", "ObjectType", "ObjectID", "TenantID", "SourceEvent",
                 "MediaTypeID", "AgentID", "PlaceID", "Queue", "MediaServerID")


def shared_strings(action: dict[str, Any]) -> dict[str, Any]:
    """``action`` with the values of :data:`SHARED_FIELDS` interned (in place; returned).

    Decoded from JSON (stage 3's bundles, an action held as text), every action has its own copy of
    each string (up to a dozen, 50–60 bytes each), where replay's actions share the ones stage 2
    made; the engine keeps some of them for as long as an instance is open or a status lasts."""
    for field in SHARED_FIELDS:
        value = action.get(field)
        if value.__class__ is str:
            action[field] = sys.intern(value)
    return action


class OrderedStats:
    """Push actions (each with an opaque ``tag`` returned once it is applied); collect records.

    Repeats of an ``ActionID`` (the pipeline delivers actions at least once) are dropped, so every
    action counts once; the newest ``dedup_keep`` (:data:`DEDUP_KEEP`) applied ids are remembered,
    up to a quarter more between two cleanings. ``dedup_keep=0``: no ids are kept and nothing is
    dropped, for a caller whose actions come once each (replay: its own core makes each action
    once, and ActionIDs are unique by construction). Past ``pack_above`` (:data:`PACK_ABOVE`)
    actions held, the next ones are held as JSON text; the engine sees the same actions either way.
    """

    def __init__(self, config: Config, window_ms: int = DEFAULT_WINDOW_MS,
                 engine: StatEngine | None = None, dedup_keep: int = DEDUP_KEEP,
                 pack_above: int = PACK_ABOVE) -> None:
        # ``engine``: a StatEngine subclass (stage 3's partial mode, ``pipeline.stats.partials``).
        self.engine = engine if engine is not None else StatEngine(config)
        self.buffer = ReorderBuffer(window_ms)
        self._arrivals = 0
        # ActionID → EventTime, in the order applied (the time orders a checkpoint's chunks)
        self.applied_ids: dict[str, int] = {}
        self._waiting_ids: set[str] = set()  # in the window, not applied yet
        self.repeats = 0
        self.dedup_keep = dedup_keep
        self.pack_above = pack_above

    @classmethod
    def once_each(cls, config: Config, window_ms: int = DEFAULT_WINDOW_MS) -> OrderedStats:
        """Replay's stage 3 (in its process or its child, ``pipeline.stats.child``): its actions come
        from its own core once each, with unique ActionIDs, so it keeps no ids (``dedup_keep=0``)."""
        return cls(config, window_ms, dedup_keep=0)

    def push(self, action: dict, tag: Any = None) -> tuple[list[Any], list[dict]]:
        """Hold one action until a watermark passes it; returns (tags of the actions applied now or
        dropped, statistic records): a repeat is dropped at once, a late action (older than one
        already applied) is applied at once."""
        tags, rows = self.push_rows(action, tag)
        return tags, as_records(rows)

    def push_rows(self, action: dict, tag: Any = None) -> tuple[list[Any], list[Row]]:
        """:meth:`push`, its records as rows (``pipeline.stats.rows``: what stage 3 encodes)."""
        if self._repeat(action):
            return [tag], []
        return self._apply_rows(self._hold(action, tag))

    def _repeat(self, action: dict) -> bool:
        """Is ``action`` a repeat of one applied or waiting (then it is counted and dropped)?
        Otherwise its id is noted as waiting."""
        action_id = action.get("ActionID") if self.dedup_keep else None
        if action_id is None:
            return False
        if action_id in self.applied_ids or action_id in self._waiting_ids:
            self.repeats += 1
            return True
        self._waiting_ids.add(action_id)
        return False

    def forget_oldest(self) -> None:
        """Keep only the newest ``dedup_keep`` applied ids (bounded memory)."""
        ids = self.applied_ids
        if len(ids) > self.dedup_keep:
            self.applied_ids = dict(islice(ids.items(), len(ids) - self.dedup_keep, None))

    def release_to(self, watermark: int) -> tuple[list[Any], list[dict]]:
        """Apply every held action at or before ``watermark``: nothing at or before it is to come."""
        tags, rows = self.release_to_rows(watermark)
        return tags, as_records(rows)

    def release_to_rows(self, watermark: int) -> tuple[list[Any], list[Row]]:
        """:meth:`release_to`, its records as rows."""
        tags: list[Any] = []
        return tags, _listed(self.iter_release_rows(watermark, tags))

    def iter_release_rows(self, watermark: int, tags: list[Any]) -> Iterator[list[Row]]:
        """:meth:`release_to_rows` as it applies: a list of rows per clock move and per action, the
        tag of each action applied appended to ``tags`` as it is (read the iterator to the end).

        Stage 3 on Kafka publishes each list as it comes: the shift's end at 10,000 agents releases
        148,000 actions at once, and their records as one list (about 700,000 rows, each with its
        value and state) made most of the worker's peak memory."""
        return self._iter_apply(self.buffer.release_to(watermark), tags)

    def flush(self) -> tuple[list[Any], list[dict]]:
        """Apply everything held (end of input; live on the wall clock, a quiet input too)."""
        tags, rows = self.flush_rows()
        return tags, as_records(rows)

    def flush_rows(self) -> tuple[list[Any], list[Row]]:
        """:meth:`flush`, its records as rows."""
        tags: list[Any] = []
        return tags, _listed(self.iter_flush_rows(tags))

    def iter_flush_rows(self, tags: list[Any]) -> Iterator[list[Row]]:
        """:meth:`flush_rows` as it applies (see :meth:`iter_release_rows`)."""
        return self._iter_apply(self.buffer.flush(), tags)

    def advance(self, now: int) -> list[dict]:
        """Move the engine's clock (resets, Time notifications) without new actions."""
        return as_records(self.advance_rows(now))

    def advance_rows(self, now: int) -> list[Row]:
        """:meth:`advance`, its records as rows."""
        return self.engine.advance_rows(now)

    def finals(self, until: int) -> list[dict]:
        return self.engine.finals(until)

    def iter_finals(self, until: int) -> Iterator[dict]:
        """:meth:`finals` one record at a time (bounded memory for a large replay)."""
        return self.engine.iter_finals(until)

    def iter_finals_batches(self, until: int) -> Iterator[list[Row]]:
        """:meth:`iter_finals` as lists of rows (``pipeline.stats.rows``), a bounded number each."""
        return batched(self.engine.iter_finals_rows(until))

    def iter_push(self, action: dict) -> Iterator[dict]:
        """:meth:`push` for a caller without tags (replay): the records one action at a time."""
        return iter_records(chain.from_iterable(self.iter_push_batches(action)))

    def iter_push_batches(self, action: dict) -> Iterator[list[Row]]:
        """:meth:`iter_push` as lists of rows (``pipeline.stats.rows``), one list per clock move and
        per action applied: replay writes them as lines directly, a list at a time."""
        if self._repeat(action):
            return iter(())
        return self._iter_apply(self._hold(action, None), [])

    def _hold(self, action: dict, tag: Any) -> list[tuple[Any, Any]]:
        """Hold ``action`` (as JSON text past :attr:`pack_above` held); what the buffer releases now."""
        self._arrivals += 1
        rank = action_rank(action, self._arrivals)
        # As text: the bytes orjson returns keep the whole buffer it wrote them in (about 4 KB for an
        # action of 300 bytes: 1.1 GB more for the shift's end of 10,000 agents); their text does not.
        held = orjson.dumps(action).decode() if len(self.buffer) >= self.pack_above else action
        return self.buffer.hold(action["EventTime"], rank, (held, tag))

    def iter_release_to(self, watermark: int) -> Iterator[dict]:
        """:meth:`release_to` one action's records at a time.

        A watermark can release thousands of actions at once (every agent logging out at the
        end of a shift); their records as one list were the peak of a replay's memory (123,000
        records, 79 MiB at 2,000 agents), while a caller writing them out needs one at a time.
        """
        return iter_records(chain.from_iterable(self.iter_release_to_batches(watermark)))

    def iter_release_to_batches(self, watermark: int) -> Iterator[list[Row]]:
        """:meth:`iter_release_to` as lists of rows (see :meth:`iter_push_batches`)."""
        return self.iter_release_rows(watermark, [])

    def iter_flush(self) -> Iterator[dict]:
        """:meth:`flush` one action's records at a time (see :meth:`iter_release_to`)."""
        return iter_records(chain.from_iterable(self.iter_flush_batches()))

    def iter_flush_batches(self) -> Iterator[list[Row]]:
        """:meth:`iter_flush` as lists of rows (see :meth:`iter_push_batches`)."""
        return self.iter_flush_rows([])

    def _apply_rows(self, released: list[tuple[Any, Any]]) -> tuple[list[Any], list[Row]]:
        tags: list[Any] = []
        return tags, _listed(self._iter_apply(released, tags))

    def _iter_apply(self, released: list[tuple[Any, Any]], tags: list[Any]) -> Iterator[list[Row]]:
        """Apply the released actions in order, yielding their records as lists of rows (what each
        clock move and each action sends); their tags go to ``tags``.

        The iterator applies an action only as it is consumed: a caller consumes it to the end.
        Each action leaves ``released`` as it is applied: a watermark can release a whole instant
        at once (148,000 logout actions at the end of a 10,000-agent day), and those held until the
        last was applied made the peak of a replay's memory, on top of the state they had grown.
        """
        engine = self.engine
        # Forgotten down to the newest ``dedup_keep`` once a quarter more are held, as they are
        # applied: a release of a whole instant added its 148,000 ids at once before.
        limit = self.dedup_keep + self.dedup_keep // 4
        keep_ids = self.dedup_keep > 0
        for i in range(len(released)):
            action, tag = released[i]
            released[i] = None  # type: ignore[call-overload]  # applied: nothing holds it any more
            if action.__class__ is str:  # held as JSON (``pack_above``)
                action = shared_strings(orjson.loads(action))
            yield engine.advance_rows(action["EventTime"])
            yield engine.on_action_rows(action, action["EventTime"])
            tags.append(tag)
            action_id = action.get("ActionID") if keep_ids else None
            if action_id is not None:
                self._waiting_ids.discard(action_id)
                self.applied_ids[action_id] = action["EventTime"]
                if len(self.applied_ids) > limit:
                    self.forget_oldest()


def _listed(batches: Iterator[list[Row]]) -> list[Row]:
    """Every row of ``batches`` as one list (read to the end: the actions are applied as it is)."""
    return list(chain.from_iterable(batches))
