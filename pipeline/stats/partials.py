"""Statistics over several partitions: stage 3's partial mode and stage 4's merge (two-phase aggregation).

Stage 3 runs one :class:`PartialStats` per partition of the stats-inputs topic. Actions are keyed
there by their own object (``pipeline.records.keys.action_key``), so every action of one Agent, Place
or Queue lands in one partition and that object's statistics are complete there (*own* objects: their
records are returned as before). A GroupAgents, GroupPlaces or Tenant object gathers the actions of
many members spread over the partitions: each partition keeps a *partial* accumulator of it (the
members it holds), sends no record for it, and hands its changes to :meth:`PartialStats.take_partials`
as updates keyed by ``stat_key``::

    {"Key": "Statistic/ObjectType/TenantID/ObjectID", "From": source, "Seq": n,
     "AsOf": event time, "Rank": [0, tenant, member id, n-th action of it at AsOf],
     "Empty": false, "Acc": accumulator JSON}

Stage 4 runs one :class:`MergeStats` per partition of ``<prefix>.stat-partials`` (keyed by ``Key``, so
one tenant's statistics spread over the partitions: no hot key). It holds the updates until every
source's watermark passed them, then applies them in (AsOf, Rank, From, Seq) order: the order in
which one engine would have applied the actions behind them (``pipeline.core.ordering.action_rank``:
at one instant, members in id order). For each it replaces that source's partial, merges the
partials (``accumulator.merge_all``; each first brought to the same instant) into the accumulator of the
whole, and notifies as the engine does. The merged accumulators live in a :class:`StatEngine`, so
resets, checks, timers, finals and state export are the engine's own.

An update is made per (statistic, object) and action — not coalesced over a batch — because
notification is not linear: with an insensitivity, which of two close values is sent depends on every
intermediate value (an agent logging out of four media channels at once moves its tenant's ratio four
times), so the merge must see the same sequence of values as one engine would. The partial is
serialised when the next action or a clock reset or prune would change it, or on ``take_partials``.
"""

from __future__ import annotations

import bisect
import heapq
import json
from collections.abc import Iterator
from typing import Any

from pipeline.core.ordering import DEFAULT_WINDOW_MS, action_rank
from pipeline.records.keys import object_key
from pipeline.records.times import parse_time
from pipeline.stats import accumulator as acc_ops
from pipeline.stats import categories, profiles
from pipeline.stats.accumulator import Accumulator, Plan
from pipeline.stats.config import Config
from pipeline.stats.engine import StatEngine, _Slot
from pipeline.stats.ordered import OrderedStats
from pipeline.stats.rows import Row, as_records

#: Object types whose statistics gather the actions of many objects (members of a group, agents of a
#: tenant): computed as partials per stats partition and merged in stage 4. Every other object type
#: (Agent, Place, Queue) only counts its own actions, which are all in one partition.
PARTIAL_TYPES = frozenset({"GroupAgents", "GroupPlaces", "Tenant"})

#: The rank of a change that no action made (a membership change), before the actions of its instant.
_NO_MEMBER: tuple[int, str, str, int] = (-1, "", "", 0)


def unmergeable(config: Config) -> list[str]:
    """Why each statistic that would be merged from partials cannot be (empty: all can)."""
    out = []
    for stat in config.statistics:
        partial = sorted(PARTIAL_TYPES & set(stat.stat_type.objects))
        if partial and not acc_ops.mergeable_in_order(stat):
            why = (f"{stat.stat_type.category} over a SinceLogin profile splits durations at the "
                   "interval's start, which is later in a partial than in the whole")
            out.append(f"statistic {stat.name!r} on {', '.join(partial)}: {why}")
    return out


def check_mergeable(config: Config) -> None:
    """Refuse a configuration with a statistic that several stats partitions cannot compute."""
    reasons = unmergeable(config)
    if reasons:
        raise ValueError(
            "cannot compute statistics over several partitions: " + "; ".join(reasons)
            + " (run with one stats partition)"
        )


def holds_nothing(acc: Accumulator) -> bool:
    """Whether ``acc`` is as new: no instance, member, completion or lateness (a partial created by a
    member's first action that did not match it — one engine would have had nothing to notify)."""
    if acc.open or acc.count or acc.members or acc.late or acc.buckets or acc.selected_main \
            or acc.selected_rel:
        return False
    bucket = acc.bucket
    if bucket is None:
        return True
    return not (
        bucket.number_main or bucket.number_rel or bucket.adjusted_main or bucket.adjusted_rel
        or bucket.time_main or bucket.time_rel or bucket.range_number or bucket.range_time or bucket.area
        or bucket.max_duration is not None or bucket.min_duration is not None
    )


# ------------------------------------------------------------------------------------ stage 3


class PartialEngine(StatEngine):
    """A :class:`StatEngine` that keeps GroupAgents / GroupPlaces / Tenant accumulators as partials.

    ``partial=False`` (one stats partition) is exactly the engine. Otherwise a change of a partial
    target's accumulator sends no record: ``_notify`` marks it *dirty* under the current change key
    (the action's EventTime and member), and the dirty accumulators are serialised as updates when the
    key changes, before the clock resets or prunes them, and on :meth:`take_partials`. Records of
    partial targets from the clock (resets, timers) and finals are dropped: stage 4 makes them.
    """

    def __init__(self, config: Config, source: int = 0, partial: bool = True) -> None:
        super().__init__(config)
        self.source = source
        self.partial = partial
        self._key: tuple[int, tuple] | None = None  # (AsOf, rank) of the changes marked dirty
        self._dirty: dict[tuple[str, str], _Slot] = {}  # (statistic, suffix) → slot, changed at _key
        self._pending: list[dict[str, Any]] = []  # updates serialised, not taken yet
        self._seq = 0  # updates made by this source (survives a restore: redeliveries are recognised)
        self._advancing = False
        # Statistics whose merged value reads only the count of ongoing instances and the sums: their
        # updates leave the instances out (a tenant's partial holds one per member's open action).
        self._lean = frozenset(s.name for s in self._slots if not categories.reads_instances(s.plan))

    # ---- the hooks

    def _notify(self, slot: _Slot, acc: Accumulator, now: int, out: list[Row],
                emitted_at: int | None = None) -> None:
        if not self.partial or acc.object_type not in PARTIAL_TYPES:
            super()._notify(slot, acc, now, out, emitted_at)
        elif not self._advancing:  # the clock alone (a check's prune) changes nothing stage 4 misses
            self._dirty[(slot.name, acc.suffix)] = slot

    def _serialise(self) -> None:
        """Dirty accumulators → pending updates (their state now, which is their state at ``_key``)."""
        if not self._dirty:
            return
        as_of, rank = self._key
        lean = self._lean
        for (name, suffix), slot in self._dirty.items():
            self._seq += 1
            acc = self._acc(slot, suffix)
            self._pending.append({
                "Key": f"{name}/{suffix}", "From": self.source, "Seq": self._seq, "AsOf": as_of,
                "Rank": list(rank), "Empty": holds_nothing(acc),
                "Acc": acc.to_json(slot.plan, instances=name not in lean),
            })
        self._dirty = {}

    def _change_key(self, key: tuple[int, tuple]) -> None:
        if key != self._key:
            self._serialise()
            self._key = key

    def on_action_rows(self, action: dict[str, Any], now_ms: int) -> list[Row]:
        if self.partial:
            t = action["EventTime"]
            if type(t) is not int:
                t = parse_time(t)
            member = action_rank(action, 0)[:3]
            key = self._key
            # the n-th action of this member at this instant: one engine applies them in this order too
            n = key[1][3] + 1 if key is not None and key[0] == t and key[1][:3] == member else 0
            self._change_key((t, (*member, n)))
        return super().on_action_rows(action, now_ms)

    def set_groups_rows(self, groups, at_ms: int) -> list[Row]:
        if self.partial:
            self._serialise()
            self._change_key((int(at_ms), _NO_MEMBER))
        return super().set_groups_rows(groups, at_ms)

    def advance_rows(self, now_ms: int) -> list[Row]:
        if not self.partial:
            return super().advance_rows(now_ms)
        if self._dirty and now_ms >= self._next_due:
            self._serialise()  # before a reset or a prune changes them: stage 4 needs them as they were
        self._advancing = True
        try:
            out = super().advance_rows(now_ms)
        finally:
            self._advancing = False
        if out:
            out = [r for r in out if r[1].object_type not in PARTIAL_TYPES]
        return out

    def iter_finals_rows(self, until_ms: int) -> Iterator[Row]:
        if not self.partial:
            yield from super().iter_finals_rows(until_ms)
            return
        yield from self.advance_rows(until_ms)
        now = self._meta["clock"]
        for slot in self._slots:
            for suffix in slot.order:
                acc = self._acc(slot, suffix)
                if acc.object_type not in PARTIAL_TYPES:
                    yield self._row(slot, acc, now, "Final")

    def take_partials(self) -> list[dict[str, Any]]:
        """The updates made since the last call, in the order they were made."""
        self._serialise()
        out, self._pending = self._pending, []
        return out

    # ---- state

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        """The engine's state; the partial bookkeeping rides in ``meta`` (every checkpoint keeps it)."""
        state = super().export_state(copy)
        if self.partial:
            dirty = [[name, suffix] for name, suffix in self._dirty]
            state["meta"]["partials"] = json.loads(json.dumps({
                "key": None if self._key is None else [self._key[0], list(self._key[1])],
                "dirty": dirty, "pending": self._pending, "seq": self._seq,
            }))
        return state

    def import_state(self, data: dict[str, Any]) -> None:
        super().import_state(data)
        mine = self._meta.pop("partials", None) or {}
        key = mine.get("key")
        self._key = None if key is None else (key[0], tuple(key[1]))
        self._dirty = {(n, s): self._by_name[n] for n, s in mine.get("dirty", []) if n in self._by_name}
        self._pending = mine.get("pending", [])
        self._seq = mine.get("seq", 0)


class PartialStats(OrderedStats):
    """Stage 3 on one of ``partitions`` stats partitions (``source`` = its number).

    As :class:`OrderedStats` (held in event-time order, released by watermarks), with a
    :class:`PartialEngine`: records of own objects come out as before, changes of GroupAgents,
    GroupPlaces and Tenant statistics come out of :meth:`take_partials` for stage 4. With one
    partition nothing is partial: the same records as :class:`OrderedStats`.
    """

    def __init__(self, config: Config, source: int = 0, partitions: int = 1,
                 window_ms: int = DEFAULT_WINDOW_MS) -> None:
        if partitions > 1:
            check_mergeable(config)
        super().__init__(config, window_ms, engine=PartialEngine(config, source, partial=partitions > 1))
        self.source = source
        self.partitions = partitions

    def iter_release_rows(self, watermark: int, tags: list[Any]) -> Iterator[list[Row]]:
        """Apply every held action at or before ``watermark``, then move the clock there (with several
        partitions): resets and checks of own objects happen even when this partition's actions
        stopped, and partials are serialised before the clock resets them."""
        yield from super().iter_release_rows(watermark, tags)
        if self.partitions > 1:
            yield self.engine.advance_rows(watermark)

    def take_partials(self) -> list[dict[str, Any]]:
        """The partial updates made since the last call, in order (``PartialEngine.take_partials``):
        send them to ``<prefix>.stat-partials`` keyed by ``Key`` before this partition's watermark."""
        return self.engine.take_partials()


# ------------------------------------------------------------------------------------ stage 4


def _order(update: dict[str, Any]) -> tuple:
    return (update["AsOf"], tuple(update["Rank"]), update["From"], update["Seq"])


class MergeEngine(StatEngine):
    """The merged GroupAgents / GroupPlaces / Tenant accumulators and the partials they come from.

    It receives no actions: :meth:`apply` replaces one source's partial and recomputes the whole.
    ``partials`` (Key → source → update) is part of :meth:`export_state` (top-level ``partials``).
    """

    _rests = False  # its accumulators are made from partials, never at rest

    def __init__(self, config: Config) -> None:
        check_mergeable(config)
        super().__init__(config)
        self.partials: dict[str, dict[int, dict[str, Any]]] = {}
        # the same partials decoded, each brought to the clock of the last update of its key
        self._decoded: dict[str, dict[int, Accumulator]] = {}

    @staticmethod
    def _bring(acc: Accumulator, plan: Plan, now: int, last: int | None) -> Accumulator:
        """A partial as it is at ``now``: its interval reset (Growing: ``last`` is the interval's
        start), its window pruned (Sliding), its time line accrued — what its own engine would have
        done had its clock been here."""
        if plan.kind == "Growing":
            if acc.bucket is not None and acc.bucket.start < last:
                acc_ops.reset(acc, plan, last, now)
        elif plan.kind == "Sliding":
            acc_ops.prune(acc, plan, now)
        acc_ops.accrue(acc, plan, now, now)
        return acc

    def apply(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """One update, in order: the clock moves to its AsOf (resets, checks), the source's partial is
        replaced, the merged accumulator recomputed and notified (Changes mode)."""
        return as_records(self._apply_rows(update))

    def _apply_rows(self, update: dict[str, Any]) -> list[Row]:
        key, source = update["Key"], update["From"]
        acc_json = update["Acc"]
        otype, tenant, oid = acc_json["o"]
        suffix = object_key(otype, tenant, oid)
        slot = self._by_name.get(key[: -len(suffix) - 1])
        if slot is None:
            return []  # a statistic no longer configured
        out = self.advance_rows(update["AsOf"])
        now = self._meta["clock"]
        parts = self.partials.setdefault(key, {})
        first = source not in parts
        parts[source] = update
        plan = slot.plan
        names = self._names(otype, tenant, oid)
        suffix = names[0]
        decoded = self._decoded.setdefault(key, {})
        decoded[source] = Accumulator.from_json(plan, acc_json)
        last = profiles.last_reset(plan.stat.profile, now) if plan.kind == "Growing" else None
        for s in parts:
            if s not in decoded:  # after a restore
                decoded[s] = Accumulator.from_json(plan, parts[s]["Acc"])
            self._bring(decoded[s], plan, now, last)
        if len(decoded) == 1:
            merged = Accumulator.from_json(plan, acc_json)  # its own copy: the clock changes it
            self._bring(merged, plan, now, last)
        else:
            merged = acc_ops.merge_all(plan, [decoded[s] for s in sorted(decoded)])
        merged.names = names  # the object's shared names
        before = slot.accs.get(suffix)
        if plan.timeline and before is not None:
            # MaxNumber, MinNumber, AverageOfCurrentNumber: the sum's time line is the whole's own,
            # kept here as one engine keeps it, since updates come in that engine's order.
            self._bring(before, plan, now, last)
            acc_ops.adopt_timeline(merged, before, plan, now)
        if before is None:
            slot.accs[suffix] = merged
            bisect.insort(slot.order, suffix)
        else:
            merged.sent, merged.sent_value = before.sent, before.sent_value
            merged.sent_state = before.sent_state
            slot.accs[suffix] = merged
            if first and update.get("Empty", False):
                self._watch(slot, suffix, merged)
                return out  # a source's first partial, empty: one engine would not have notified
        self._watch(slot, suffix, merged)
        self._notify(slot, merged, now, out)
        return out

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        state = super().export_state(copy)
        state["partials"] = json.loads(json.dumps(
            {key: {str(s): u for s, u in parts.items()} for key, parts in self.partials.items()}
        ))
        return state

    def import_state(self, data: dict[str, Any]) -> None:
        super().import_state(data)
        self._decoded = {}
        self.partials = {
            key: {int(s): u for s, u in parts.items()}
            for key, parts in json.loads(json.dumps(dict(data.get("partials", {}).items()))).items()
        }


class MergeStats:
    """Stage 4 on one partition of ``<prefix>.stat-partials``: updates of ``sources`` stats partitions.

    :meth:`push` holds an update (each with an opaque ``tag``, returned once it is applied or
    dropped); :meth:`watermark` records that a source has sent every update as of a time and applies
    the held ones up to the lowest watermark of all sources, in (AsOf, Rank, From, Seq) order. An
    update not newer (``Seq``) than the one held or applied for its (Key, From) is a redelivery and is
    dropped. Raises ``ValueError`` at construction for a statistic that cannot be merged.
    """

    def __init__(self, config: Config, sources: int) -> None:
        self.engine = MergeEngine(config)
        self.sources = sources
        self._held: list[tuple[tuple, dict[str, Any], Any]] = []  # heap of (order, update, tag)
        self._marks: dict[int, int] = {}  # source → its watermark
        self._latest: dict[tuple[str, int], int] = {}  # (Key, From) → the newest Seq held or applied
        self.repeats = 0

    @property
    def low(self) -> int | None:
        """The lowest watermark of all sources (None until each has sent one)."""
        if len(self._marks) < self.sources:
            return None
        return min(self._marks.values())

    def push(self, update: dict[str, Any], tag: Any = None) -> tuple[list[Any], list[dict]]:
        """Hold one update; a redelivery is dropped at once, an update at or before the lowest
        watermark (late) is applied at once."""
        ident = (update["Key"], update["From"])
        if update["Seq"] <= self._latest.get(ident, 0):
            self.repeats += 1
            return [tag], []
        self._latest[ident] = update["Seq"]
        heapq.heappush(self._held, (_order(update), update, tag))
        low = self.low
        if low is not None and update["AsOf"] <= low:
            return self._release(low)
        return [], []

    def watermark(self, source: int, t: int, tag: Any = None) -> tuple[list[Any], list[dict]]:
        """Source ``source`` has sent every update as of ``t`` or before: apply what every source has
        passed, then move the clock to the lowest watermark (resets, checks of the merged objects).
        The watermark's own ``tag`` comes back at once, after those of the updates applied."""
        if t > self._marks.get(source, t - 1):
            self._marks[source] = t
        low = self.low
        if low is None:
            return [tag], []
        tags, records = self._release(low)
        records += self.engine.advance(low)
        return [*tags, tag], records

    def _release(self, limit: int | None) -> tuple[list[Any], list[dict]]:
        tags: list[Any] = []
        records: list[dict] = []
        held = self._held
        while held and (limit is None or held[0][0][0] <= limit):
            _order_key, update, tag = heapq.heappop(held)
            records += self.engine.apply(update)
            tags.append(tag)
        return tags, records

    def flush(self) -> tuple[list[Any], list[dict]]:
        """Apply everything held (end of input)."""
        return self._release(None)

    def advance(self, now: int) -> list[dict]:
        """Move the clock (wall clock live): resets, timers and checks of the merged objects."""
        return self.engine.advance(now)

    def finals(self, until: int) -> list[dict]:
        return self.engine.finals(until)

    def iter_finals(self, until: int) -> Iterator[dict]:
        return self.engine.iter_finals(until)

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        """The engine's state (merged accumulators, ``partials``) plus the held updates, the sources'
        watermarks and the newest Seq per (Key, From), so a restarted stage 4 drops redeliveries
        (``copy``: as ``StatEngine.export_state``)."""
        state = self.engine.export_state(copy)
        state["merge"] = json.loads(json.dumps({
            "held": [u for _o, u, _t in sorted(self._held, key=lambda e: e[0])],
            "marks": {str(s): t for s, t in self._marks.items()},
            "latest": [[k, s, n] for (k, s), n in self._latest.items()],
        }))
        return state

    def import_state(self, data: dict[str, Any]) -> None:
        self.engine.import_state(data)
        mine = data.get("merge", {})
        self._held = [(_order(u), u, None) for u in mine.get("held", [])]
        heapq.heapify(self._held)
        self._marks = {int(s): t for s, t in mine.get("marks", {}).items()}
        self._latest = {(k, s): n for k, s, n in mine.get("latest", [])}

