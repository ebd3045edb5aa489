"""The statistics engine: action records in, StatValue records out, with an explicit clock.

Pure and deterministic (no I/O, no wall clock): the caller passes ``now`` and the engine keeps the
largest time it has seen (it never goes backwards). Each statistic is compiled once (a
:class:`_Slot`: its plan, its value function, its accumulators by object); an action reaches only
the statistics whose masks name it (once its objects are seen), and each (statistic, object) it
touches costs O(1) (``pipeline.stats.accumulator``). Values are evaluated only when a notification
needs one.

State is exported as plain JSON-serialisable data:

- ``accumulators``: one dict per (statistic, object) under ``Statistic/ObjectType/TenantID/ObjectID``
  — what a Faust/RocksDB table holds, one key each;
- ``objects``: one status tracker per Agent/Place under ``ObjectType/TenantID/ObjectID``
  (``pipeline.stats.status``);
- ``meta``: the clock, the next reset / timer / check time per statistic, the group membership
  history and the SinceLogin sessions waiting to close.

Fan-out (actions.md §4): an Agent action counts for the Agent, every GroupAgents containing the
agent at the action's EventTime, and the Tenant; a Place action for the Place and its GroupPlaces;
a Queue action for the Queue.
"""

from __future__ import annotations

import bisect
import copy
import json
import sys
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from pipeline.records.keys import object_key
from pipeline.records.times import parse_time
from pipeline.stats import accumulator as acc_ops
from pipeline.stats import categories, notification, profiles, status
from pipeline.stats.accumulator import Accumulator, Plan
from pipeline.stats.config import Config
from pipeline.stats.model import OBJECT_TYPES, Groups, Statistic
from pipeline.stats.rows import Row, as_record, as_records, iter_records, line_parts

STATE_VERSION = 2


def _groups_to_json(groups: Groups) -> dict[str, Any]:
    return {
        "agents": {g: sorted(m) for g, m in sorted(groups.agents.items())},
        "places": {g: sorted(m) for g, m in sorted(groups.places.items())},
    }


def _groups_from_json(data: dict[str, Any]) -> Groups:
    return Groups(
        agents={g: frozenset(m) for g, m in data["agents"].items()},
        places={g: frozenset(m) for g, m in data["places"].items()},
    )


class _Membership:
    """One entry of the membership history with its index from member to groups (sorted)."""

    __slots__ = ("groups", "of_agent", "of_place", "targets")

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        #: (ObjectType, TenantID, ObjectID) → the objects its actions count for (``StatEngine._targets``)
        self.targets: dict[tuple[str, str, str], tuple[tuple[str, str, str], ...]] = {}
        self.of_agent: dict[str, tuple[str, ...]] = {}
        self.of_place: dict[str, tuple[str, ...]] = {}
        for index, mapping in ((self.of_agent, groups.agents), (self.of_place, groups.places)):
            for group in sorted(mapping):
                for member in mapping[group]:
                    index[member] = (*index.get(member, ()), group)


class _Slot:
    """One statistic, compiled: its plan, value function and accumulators (key order kept)."""

    __slots__ = ("stat", "plan", "value_of", "state", "accs", "order", "mode", "window_only", "resets",
                 "objects", "idle_at_zero", "changes", "insensitivity", "bounds", "name", "stat_type",
                 "category", "profile", "unit", "line", "watched", "watch", "rests", "rest_start",
                 "rest_accrued")

    def __init__(self, stat: Statistic) -> None:
        self.stat = stat
        self.plan: Plan = acc_ops.compile_plan(stat)
        self.state = stat.stat_type.category in acc_ops.STATE_CATEGORIES
        self.value_of = None if self.state else categories.compile_evaluator(self.plan)
        # "ObjectType/TenantID/ObjectID" → accumulator; one at rest is in ``order`` alone
        # (``StatEngine._rest``)
        self.accs: dict[str, Accumulator] = {}
        self.order: list[str] = []  # the same keys, sorted: the same record order after a restore
        self.mode = stat.notification.mode
        self.window_only = categories.moves_only_with_window(stat)
        self.resets = notification.sends_resets(stat)
        self.objects = frozenset(stat.stat_type.objects)
        # Current categories that move with the clock are 0 while nothing matching M is open; every
        # change of the accumulator is looked at when it happens, so a check can skip them then.
        self.idle_at_zero = stat.stat_type.category in categories.ZERO_WHEN_CLOSED
        # The objects a check can have to look at, so that it looks at them alone instead of at every
        # object (a day of 200 agents, each in work a few hours, had 36 of 1,600 to look at per 10 s
        # check): those whose CurrentNumber(M) may be other than 0 (``idle_at_zero``) or that may
        # hold a bucket of a Sliding window (``window_only``). A superset: every object whose count
        # or buckets were not empty after a change (``_watch``); None: unknown (after a restore or a
        # merge), found again by the next check (``_watched``).
        self.changes = self.mode == "Changes"
        sliding = self.plan.kind == "Sliding"
        self.watched = self.changes and (self.idle_at_zero or (self.window_only and sliding))
        self.watch: set[str] | None = set() if self.watched else None
        self.insensitivity = stat.notification.insensitivity
        self.bounds = categories.compile_bounds(self.plan)
        # Accumulators at rest (``StatEngine._rest``): Changes mode, a number, a shared empty state.
        # Their Growing interval starts at ``rest_start`` and they are accrued to ``rest_accrued``
        # (None: to when their object was seen) — the same for all of them, moved by each reset.
        self.rests = self.changes and not self.state and self.plan.kind in acc_ops.RESTING_KINDS
        self.rest_start: int | None = None
        self.rest_accrued: int | None = None
        # The record's constant fields, read by ``StatEngine._record`` (one dict display per record).
        template = notification.record(stat, "", "", "", None, None, (None, None), 0, "")
        self.name, self.stat_type = template["Statistic"], template["StatType"]
        self.category = template["Category"]
        self.profile, self.unit = template["TimeProfile"], template["Unit"]
        self.line = line_parts(self.name, self.stat_type, self.category, self.profile, self.unit)

    def evaluate(self, acc: Accumulator, at: int) -> tuple[float | None, dict | None]:
        if self.state:
            return None, categories.current_state(acc, self.stat)
        return self.value_of(acc, at), None


class AccumulatorsView(Mapping):
    """The accumulators' JSON data by key (``Statistic/ObjectType/TenantID/ObjectID``), made as
    each is read: what ``export_state(copy=False)`` gives a checkpoint.

    Made all at once, the data of every accumulator was the peak of a worker's memory: at 2,000
    agents, 212,000 dicts of nested dicts and lists held about 570 MB for the 110 MB of JSON they
    encode to, on top of the engine itself. Reading the view while the engine changes is an error
    of the caller (the keys come from the slots' ``order`` as they are then).
    """

    def __init__(self, slots: list[_Slot], engine: StatEngine) -> None:
        self._slots = slots
        self._by_name = {slot.stat.name: slot for slot in slots}
        self._engine = engine  # its accumulators at rest are made again as they are read

    def __len__(self) -> int:
        return sum(len(slot.order) for slot in self._slots)

    def __iter__(self) -> Iterator[str]:
        for slot in self._slots:
            name = slot.stat.name
            for suffix in slot.order:
                yield f"{name}/{suffix}"

    def __getitem__(self, key: str) -> dict[str, Any]:
        name, _, suffix = key.partition("/")
        slot = self._by_name.get(name)
        if slot is None or (suffix not in slot.accs and not self._engine._resting(slot, suffix)):
            raise KeyError(key)
        return self._engine._acc(slot, suffix).to_json(slot.plan)

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:  # type: ignore[override]
        """(key, JSON data) in export order, one accumulator at a time."""
        acc_of = self._engine._acc
        for slot in self._slots:
            name, plan = slot.stat.name, slot.plan
            for suffix in slot.order:
                yield f"{name}/{suffix}", acc_of(slot, suffix).to_json(plan)


class StatEngine:
    """Applies action records to every configured statistic and answers their values."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._stats: tuple[Statistic, ...] = tuple(config.statistics)
        self._slots: tuple[_Slot, ...] = tuple(_Slot(s) for s in self._stats)
        self._by_name: dict[str, _Slot] = {s.stat.name: s for s in self._slots}
        self._objects: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, Any] = {
            "clock": None,
            "due": {},
            "groups": [[None, _groups_to_json(config.groups)]],
            "pending_logout": [],  # [statistic, "ObjectType/TenantID/ObjectID"]
        }
        self._membership: dict[int | None, _Membership] = {}
        self._relevant: dict[tuple[str, str | None, bool, bool], tuple[_Slot, ...]] = {}
        self._shared: dict[str, tuple[str, str, str, str]] = {}  # ``_names``
        self._seen: set[str] = set()  # objects ("ObjectType/TenantID/ObjectID") every statistic has seen
        self._rest_seen: dict[str, int] = {}  # object → ``seen`` of its accumulators at rest (``_rest``)
        self._next_due: float = float("-inf")  # before the first advance everything is due
        # Checks may do ``_notify``'s work themselves unless a subclass changed it (stage 3's partials)
        self._checks_inline = type(self)._notify is StatEngine._notify

    # ------------------------------------------------------------------------------------ clock

    @property
    def clock(self) -> int | None:
        return self._meta["clock"]

    def _tick_clock(self, now: int) -> int:
        clock = self._meta["clock"]
        now = int(now) if clock is None else max(int(clock), int(now))
        if clock is None:
            for stat in self._stats:
                self._meta["due"][stat.name] = self._schedule(stat, now)
        self._meta["clock"] = now
        return now

    @staticmethod
    def _schedule(stat: Statistic, now: int) -> dict[str, int | None]:
        """The next reset (Growing), timer (Time mode) and check (Changes, clock-moved) after now."""
        growing = stat.profile.kind == "Growing"
        return {
            "reset": profiles.next_reset(stat.profile, now) if growing else None,
            "tick": notification.next_tick(stat, now),
            "check": notification.next_check(stat, now),
        }

    # ------------------------------------------------------------------------------------ groups

    def _membership_at(self, t: int) -> _Membership:
        current = self._meta["groups"][0]
        for entry in self._meta["groups"]:
            if entry[0] is None or entry[0] <= t:
                current = entry
        found = self._membership.get(current[0])
        if found is None:
            found = self._membership[current[0]] = _Membership(_groups_from_json(current[1]))
        return found

    def set_groups(self, groups: Groups, at_ms: int) -> list[dict[str, Any]]:
        """New group membership from ``at_ms``: leavers' ongoing instances complete there for the
        group; joiners' current status is counted from there (status subjects)."""
        return as_records(self.set_groups_rows(groups, at_ms))

    def set_groups_rows(self, groups: Groups, at_ms: int) -> list[Row]:
        """:meth:`set_groups`, its records as rows (``pipeline.stats.rows``)."""
        out = self.advance_rows(at_ms)
        now = self._meta["clock"]
        old = self._membership_at(at_ms).groups
        history = [e for e in self._meta["groups"] if e[0] != int(at_ms)]
        history.append([int(at_ms), _groups_to_json(groups)])
        history.sort(key=lambda e: -1 if e[0] is None else e[0])
        self._meta["groups"] = history
        self._membership = {}
        for gtype, member_type, old_map, new_map in (
            ("GroupAgents", "Agent", old.agents, groups.agents),
            ("GroupPlaces", "Place", old.places, groups.places),
        ):
            for group in sorted(set(old_map) | set(new_map)):
                before, after = old_map.get(group, frozenset()), new_map.get(group, frozenset())
                for member_id in sorted(before - after):
                    out += self._leave(gtype, group, f"{member_type}:{member_id}", int(at_ms), now)
                for member_id in sorted(after - before):
                    out += self._join(gtype, group, member_type, member_id, int(at_ms), now)
        return out

    def _leave(self, gtype: str, group: str, member: str, at: int, now: int) -> list[Row]:
        out = []
        for slot in self._slots:
            for suffix in list(slot.order):
                acc = slot.accs.get(suffix)
                if acc is None:
                    continue  # at rest: no member, no instance to end
                if acc.object_type == gtype and acc.object_id == group:
                    if acc_ops.remove_member(acc, slot.plan, member, at, now):
                        self._notify(slot, acc, now, out)
                    self._watch(slot, suffix, acc)
        return out

    def _join(self, gtype: str, group: str, member_type: str, member_id: str, at: int, now: int) -> list[Row]:
        out = []
        for okey in sorted(self._objects):
            otype, tenant, oid = self._objects[okey]["o"]
            if otype != member_type or oid != member_id:
                continue
            for slot in self._slots:
                if gtype not in slot.stat.stat_type.objects or not slot.plan.by_status:
                    continue
                acc, _new = self._get_acc(slot, gtype, tenant, group, at, now)
                view = status.status_view(self._objects[okey], slot.stat.stat_type.media_types)
                if acc_ops.apply_status(acc, slot.plan, f"{member_type}:{member_id}", view, at, now):
                    self._notify(slot, acc, now, out)
                self._watch(slot, object_key(gtype, tenant, group), acc)
        return out

    # ----------------------------------------------------------------------------------- actions

    @staticmethod
    def _watch(slot: _Slot, suffix: str, acc: Accumulator) -> None:
        """Keep ``slot.watch`` a superset of the objects whose CurrentNumber(M) is not 0 or that hold
        a Sliding bucket: call it after any change of an accumulator outside ``on_action`` (which
        does the same inline)."""
        if slot.watch is not None and (acc.count or acc.oldest is not None):
            slot.watch.add(suffix)

    #: Whether accumulators may rest (``_rest``); not where accumulators are made from partials.
    _rests = True

    def _rest(self, slot: _Slot, suffix: str, acc: Accumulator) -> bool:
        """Keep ``acc`` in ``slot.order`` alone if it holds nothing but the 0 it sent when it was
        made (``accumulator.at_rest``); ``_acc`` makes it again when it is read, ``_get_acc`` when
        it changes. True if it rests.

        At the end of a 10,000-agent day 630,000 of the 1.06 million accumulators were such, 125
        bytes each: they hold what a Rejected, a Revoked or a last-hour count of an agent that
        never had one holds. A slot's resting accumulators share their interval start and
        accrual (``_Slot.rest_start``), and an object's its ``seen`` (``_rest_seen``): one whose
        own differ stays held.
        """
        if not self._rests or not slot.rests:
            return False
        if slot.rest_start is None and slot.plan.kind == "Growing":
            start = acc.bucket.start
        else:
            start = slot.rest_start
        if not acc_ops.at_rest(acc, slot.plan, start, slot.rest_accrued):
            return False
        if self._rest_seen.setdefault(suffix, acc.seen) != acc.seen:
            return False
        slot.rest_start = start
        slot.accs.pop(suffix, None)
        return True

    def _resting(self, slot: _Slot, suffix: str) -> bool:
        """Is the accumulator of ``suffix`` in ``slot`` at rest (in ``order``, not held)?"""
        if suffix in slot.accs or suffix not in self._rest_seen:
            return False
        order = slot.order
        i = bisect.bisect_left(order, suffix)
        return i < len(order) and order[i] == suffix

    def _acc(self, slot: _Slot, suffix: str) -> Accumulator:
        """The accumulator of ``suffix`` (one of ``slot.order``): the one held, or the one at rest
        made again (not kept: a caller that changes it keeps it, :meth:`_kept`)."""
        acc = slot.accs.get(suffix)
        if acc is not None:
            return acc
        return acc_ops.rested(slot.plan, self._shared[suffix], self._rest_seen[suffix], slot.rest_start,
                              slot.rest_accrued)

    def _kept(self, slot: _Slot, suffix: str) -> Accumulator:
        """:meth:`_acc`, held from now on: for a caller that may change it."""
        acc = slot.accs.get(suffix)
        if acc is None:
            acc = slot.accs[suffix] = self._acc(slot, suffix)
        return acc

    def _names(self, otype: str, tenant: str, oid: str) -> tuple[str, str, str, str]:
        """One shared copy of an object's key and names for all its accumulators.

        Every statistic holds an accumulator per object (65 per agent with the starter
        statistics), and each action's strings are fresh objects: without sharing, each
        accumulator kept its own key and names (13 MiB of keys alone at 2,000 agents).
        """
        suffix = object_key(otype, tenant, oid)
        found = self._shared.get(suffix)
        if found is None:
            found = self._shared[suffix] = (sys.intern(suffix), sys.intern(otype), sys.intern(tenant),
                                            sys.intern(oid))
        return found

    def _get_acc(self, slot: _Slot, otype: str, tenant: str, oid: str, t: int, now: int):
        names = self._names(otype, tenant, oid)
        suffix, otype, tenant, oid = names
        acc = slot.accs.get(suffix)
        if acc is not None:
            return acc, False
        if self._resting(slot, suffix):  # made again, and held from now on
            return self._kept(slot, suffix), False
        acc = slot.accs[suffix] = acc_ops.new_accumulator(slot.plan, otype, tenant, oid, min(t, now), now,
                                                          names)
        bisect.insort(slot.order, suffix)
        return acc, True

    def _targets(self, otype: str, oid: str, tenant: str, t: int) -> tuple[tuple[str, str, str], ...]:
        """The objects an action of this object counts for at ``t``: (type, id, accumulator suffix).

        Kept per membership entry: the same object's actions ask the same question again and again.
        """
        membership = self._membership_at(t)
        found = membership.targets.get((otype, tenant, oid))
        if found is not None:
            return found
        if otype == "Agent":
            groups = membership.of_agent.get(oid, ())
            pairs = [("Agent", oid), *(("GroupAgents", g) for g in groups), ("Tenant", tenant)]
        elif otype == "Place":
            groups = membership.of_place.get(oid, ())
            pairs = [("Place", oid), *(("GroupPlaces", g) for g in groups)]
        else:
            pairs = [(otype, oid)]
        found = membership.targets[(otype, tenant, oid)] = tuple(
            (tt, ti, object_key(tt, tenant, ti)) for tt, ti in pairs
        )
        return found

    def on_action(self, action: dict[str, Any], now_ms: int) -> list[dict[str, Any]]:
        """Apply one action record; returns the records it triggers (resets due first)."""
        return as_records(self.on_action_rows(action, now_ms))

    def on_action_rows(self, action: dict[str, Any], now_ms: int) -> list[Row]:
        """:meth:`on_action`, its records as rows (``pipeline.stats.rows``)."""
        t = action["EventTime"]
        if type(t) is not int:
            t = parse_time(t)
            action = {**action, "EventTime": t}
        start_time = action.get("StartTime")
        if start_time is not None and type(start_time) is not int:
            action = {**action, "StartTime": parse_time(start_time, "StartTime")}
        now_ms = int(now_ms)
        out = self.advance_rows(now_ms if now_ms > t else t)
        now = self._meta["clock"]
        otype, oid, tenant = action["ObjectType"], action["ObjectID"], action.get("TenantID") or ""
        name = action["Action"]
        member = f"{otype}:{oid}"
        tracker, tracker_changed, login_event = None, False, None
        if otype == "Agent" or otype == "Place":
            okey = object_key(otype, tenant, oid)
            tracker = self._objects.get(okey)
            if tracker is None:
                tracker = self._objects[okey] = {**status.new_tracker(), "o": [otype, tenant, oid]}
            if name == "Active":  # only an Active opens or closes a login (``status.logged_in``)
                was_in = status.logged_in(tracker)
                tracker_changed = status.apply_action(tracker, action)
                is_in = status.logged_in(tracker)
                login_event = "login" if is_in and not was_in else "logout" if was_in and not is_in else None
            else:
                tracker_changed = status.apply_action(tracker, action)
        targets = self._targets(otype, oid, tenant, t)
        # A status is a present fact: it goes to the groups the member is in now, even when the
        # action is late and counts (as an action) for the groups of its EventTime.
        targets_now = targets if t >= now else self._targets(otype, oid, tenant, now)
        seen = self._seen
        fresh = [suffix for _tt, _ti, suffix in targets if suffix not in seen]
        if targets_now is not targets:
            fresh += [suffix for _tt, _ti, suffix in targets_now if suffix not in seen]
        # Once every statistic holds an accumulator for these objects ("seen"), only the statistics
        # whose masks name this action and media (or that follow status) can change: skip the others.
        # A login or logout also reaches the SinceLogin statistics (their sessions open and close).
        if not fresh:
            key = (name, action.get("MediaTypeID"), tracker_changed, login_event is not None)
            slots = self._relevant.get(key)
            if slots is None:
                slots = self._slots_for(*key)
        else:
            slots = self._slots
        views: dict[frozenset[str] | None, dict[str, Any]] = {}  # status views of this action, by media
        pending = self._meta["pending_logout"]
        apply_action, apply_status, notify = acc_ops.apply_action, acc_ops.apply_status, self._notify
        # A durable action's instance key is the same for every statistic: made once here.
        durable_key = acc_ops.instance_key(action, member) if action.get("Kind") == "Durable" else None
        for slot in slots:
            plan = slot.plan
            objects = slot.objects
            accs = slot.accs
            watch = slot.watch
            by_status = plan.by_status
            session = login_event is not None and plan.kind == "SinceLogin"
            for target_type, target_id, suffix in targets_now if by_status else targets:
                if target_type not in objects:
                    continue
                acc = accs.get(suffix)
                created = False
                if acc is None:
                    acc, created = self._get_acc(slot, target_type, tenant, target_id, t, now)
                changed = created
                own = session and target_type == otype
                if own and acc_ops.pending_logout(acc, plan) is not None and (
                    login_event == "login" or t > acc.logout
                ):
                    out += self._close_session(slot, acc, now)
                if own and login_event == "login":
                    acc_ops.login(acc, plan, t, now)
                    changed = True
                if by_status:
                    if tracker is not None and (tracker_changed or member not in acc.members):
                        media = slot.stat.stat_type.media_types
                        view = views.get(media)
                        if view is None:
                            view = views[media] = status.status_view(tracker, media)
                        changed = apply_status(acc, plan, member, view, t, now) or changed
                elif apply_action(acc, plan, action, member, now, durable_key):
                    changed = True
                if own and login_event == "logout":
                    acc_ops.logout(acc, t)
                    entry = [slot.stat.name, suffix]
                    if entry not in pending:
                        pending.append(entry)
                if changed:
                    notify(slot, acc, now, out)
                if watch is not None and (acc.count or acc.oldest is not None):  # ``_watch``, inlined
                    watch.add(suffix)
                if created and slot.rests:
                    self._rest(slot, suffix, acc)
        if fresh and slots is self._slots:
            seen.update(fresh)
        return out

    def _slots_for(self, action_name: str, media: str | None, status_moved: bool,
                   session: bool = False) -> tuple[_Slot, ...]:
        """Statistics an action of this name and media can change once its objects are seen (the
        status statistics only when the action moved a status: members are already in them; the
        SinceLogin ones also when it opened or closed a ``session``)."""
        key = (action_name, media, status_moved, session)
        found = self._relevant.get(key)
        if found is None:
            found = self._relevant[key] = tuple(
                s for s in self._slots
                if (s.plan.by_status and status_moved)
                or (session and s.plan.kind == "SinceLogin")
                or (
                    (s.stat.stat_type.main_mask.matches(action_name)
                     or s.stat.stat_type.rel_mask.matches(action_name))
                    and (media is None or s.stat.stat_type.media_types is None
                         or media in s.stat.stat_type.media_types)
                )
            )
        return found

    # ----------------------------------------------------------------------------- notification

    def _row(self, slot: _Slot, acc: Accumulator, at: int, reason: str,
             interval: tuple[int | None, int | None] | None = None,
             evaluated: tuple[float | None, dict | None] | None = None,
             emitted_at: int | None = None) -> Row:
        """The record of ``acc``'s value at ``at`` as a row (``pipeline.stats.rows``)."""
        value, state = evaluated if evaluated is not None else slot.evaluate(acc, at)
        start, end = interval if interval is not None else slot.bounds(acc, at)
        return (slot, acc, start, end, value, state,
                self._meta["clock"] if emitted_at is None else emitted_at, reason)

    def _record(self, slot: _Slot, acc: Accumulator, at: int, reason: str,
                interval: tuple[int | None, int | None] | None = None,
                evaluated: tuple[float | None, dict | None] | None = None,
                emitted_at: int | None = None) -> dict[str, Any]:
        """:meth:`_row` as a StatValue record."""
        return as_record(self._row(slot, acc, at, reason, interval, evaluated, emitted_at))

    def _notify(self, slot: _Slot, acc: Accumulator, now: int, out: list[Row],
                emitted_at: int | None = None) -> None:
        """Changes mode: append a row to ``out`` when the value moved enough since the last one
        sent (``notification.changed_enough``, inlined: this runs for every change of every
        accumulator)."""
        if not slot.changes:
            return
        if slot.state:
            value, state = None, categories.current_state(acc, slot.stat)
            if acc.sent and state == acc.sent_state:
                return
        else:
            value, state = slot.value_of(acc, now), None
            if acc.sent:
                last = acc.sent_value
                if acc.sent_state is None and last is not None and (
                    value == last or abs(value - last) < slot.insensitivity
                ):
                    return
        acc.sent, acc.sent_value, acc.sent_state = True, acc_ops.kept_value(value), state
        if slot.plan.kind == "Growing":  # ``slot.bounds``, inlined for the most common profile
            start, end = acc.bucket.start, None
        else:
            start, end = slot.bounds(acc, now)
        out.append((slot, acc, start, end, value, state,  # ``_row``, inlined
                    self._meta["clock"] if emitted_at is None else emitted_at, "Change"))

    def _close_session(self, slot: _Slot, acc: Accumulator, now: int) -> list[Row]:
        lo = acc.logout
        out = []
        if slot.resets:
            row = self._row(slot, acc, lo, "Reset", (acc.bucket.start, lo))
            notification.remember(acc, row[4], row[5])
            out.append(row)
        acc_ops.close_session(acc, slot.plan, now)
        entry = [slot.stat.name, acc.suffix]
        if entry in self._meta["pending_logout"]:
            self._meta["pending_logout"].remove(entry)
        return out

    def advance(self, now_ms: int) -> list[dict[str, Any]]:
        """Move the clock (:meth:`advance_rows`); returns the records it sends."""
        return as_records(self.advance_rows(now_ms))

    def advance_rows(self, now_ms: int) -> list[Row]:
        """Move the clock: SinceLogin sessions close, Growing resets (closed values, then the new
        interval), Time-mode timers, and Changes-mode checks of clock-moved values.

        O(objects) whatever the gap: when several resets are due the intervals between them had no
        data, so only the interval that had data is closed (its Reset record) and the interval
        containing the clock starts; a timer or a check sends one record per object however many
        multiples the clock crossed, evaluated at the last multiple crossed (``notification``).
        A statistic's timers and checks due before its reset are done before it, on the interval it
        closes: a clock that jumps over both gives the records of a clock that stopped in between.
        """
        meta = self._meta
        clock = meta["clock"]
        if clock is not None and now_ms < self._next_due and not meta["pending_logout"]:
            if now_ms > clock:
                meta["clock"] = int(now_ms)
            return []  # nothing is due: O(1)
        before = clock
        now = self._tick_clock(now_ms)
        floor = now if before is None else before  # no accumulator is accrued beyond it
        out: list[Row] = []
        for entry in list(self._meta["pending_logout"]):
            slot = self._by_name[entry[0]]
            acc = slot.accs[entry[1]]
            if acc.logout < now:
                out += self._close_session(slot, acc, now)
        for slot in self._slots:
            stat = slot.stat
            due = self._meta["due"][stat.name]
            if due["reset"] is not None and due["reset"] <= now:
                # what was due before the reset, on the interval it closes
                self._ticks_and_checks(slot, due, due["reset"] - 1, floor, out)
                last = profiles.last_reset(stat.profile, now)
                out += self._reset(slot, due["reset"], max(last, due["reset"]), now)
                due["reset"] = profiles.next_reset(stat.profile, max(last, due["reset"]))
            self._ticks_and_checks(slot, due, now, floor, out)
        self._next_due = self._earliest_due()
        return out

    def _ticks_and_checks(self, slot: _Slot, due: dict[str, int | None], now: int, floor: int,
                          out: list[Row]) -> None:
        """Time-mode timers and Changes-mode checks due at or before ``now``: one record per object,
        evaluated at the last instant of the grid crossed (never before ``floor``, the clock before
        this advance: no accumulator is accrued beyond it)."""
        stat = slot.stat
        if due["tick"] is not None and due["tick"] <= now:
            at = max(floor, notification.last_tick(stat, now))
            for suffix in slot.order:
                out.append(self._row(slot, self._acc(slot, suffix), at, "Timer", emitted_at=at))
            due["tick"] = notification.next_tick(stat, now)
        if due["check"] is not None and due["check"] <= now:
            at = max(floor, notification.last_check(stat, due["check"], now))
            plan, window_only = slot.plan, slot.window_only
            first = plan.window_start(at) if plan.kind == "Sliding" else None
            since = due["check"]  # the first instant not looked at yet
            # Most objects are skipped (nothing open, nothing left the window): those tests first, in
            # one comprehension, then the rest in key order (each object's records are its own).
            # (unwatched: every accumulator, those at rest held again, as a check may change them)
            candidates: Any = map(partial(self._kept, slot), slot.order)
            if slot.watched:
                # nothing open: the value is 0, as when it was last looked at; nothing left the
                # window: the value cannot move (``_watched``)
                candidates = self._watched(slot, first)
            prune, notify = acc_ops.prune, self._notify
            # ``_notify`` inlined for the values checked (Changes mode, a number; a subclass's own
            # ``_notify`` is called): 44 % of a busy day's records are these.
            inline = self._checks_inline
            value_of, insensitivity, append = slot.value_of, slot.insensitivity, out.append
            growing = plan.kind == "Growing"
            for acc in candidates:
                if first is not None and acc.oldest is not None and acc.oldest < first:
                    if since < at:  # one instant crossed: nothing in between
                        self._leaving(slot, acc, since, at, first, out)
                    if prune(acc, plan, at) == 0 and window_only:
                        continue
                if not inline:
                    notify(slot, acc, at, out, at)
                    continue
                value = value_of(acc, at)
                if acc.sent:
                    last = acc.sent_value
                    if acc.sent_state is None and last is not None and (
                        value == last or abs(value - last) < insensitivity
                    ):
                        continue
                acc.sent, acc.sent_value, acc.sent_state = True, acc_ops.kept_value(value), None
                start, end = (acc.bucket.start, None) if growing else slot.bounds(acc, at)
                append((slot, acc, start, end, value, None, at, "Change"))
            due["check"] = notification.next_check(stat, now)

    @staticmethod
    def _watched(slot: _Slot, first: int | None) -> list[Accumulator]:
        """The accumulators a check of ``slot`` looks at, in key order: CurrentNumber(M) other than
        0 (``idle_at_zero``), or holding a bucket that left the window starting at ``first``
        (``window_only``). ``slot.watch`` is pruned of the objects that hold nothing any more, or
        found again from every accumulator when unknown."""
        accs, watch = slot.accs, slot.watch
        if watch is None:
            watch = slot.watch = {  # the accumulators held (one at rest holds nothing)
                suffix for suffix, acc in accs.items() if acc.count or acc.oldest is not None
            }
        found, gone = [], []
        if slot.idle_at_zero:
            for suffix in watch:
                (found if accs[suffix].count != 0 else gone).append(suffix)
        else:
            for suffix in watch:
                oldest = accs[suffix].oldest
                if oldest is None:
                    gone.append(suffix)
                elif oldest < first:
                    found.append(suffix)
        watch.difference_update(gone)
        found.sort()
        return [accs[suffix] for suffix in found]

    def _leaving(self, slot: _Slot, acc: Accumulator, since: int, at: int, first: int,
                 out: list[Row]) -> None:
        """Sliding, when the clock crossed several check instants at once: look at the value at
        each instant before ``at`` where a bucket holding something left the window (the only
        instants where a value that moves with its window changes), as a clock stopping at every
        instant would. Without it, the last record sent depends on how far the clock jumped — and so
        on how often other objects' actions (or a partition's watermarks) move it. Bounded by the
        buckets of one window, whatever the gap."""
        plan = slot.plan
        leaving = sorted(
            {
                max(since, start + plan.reach + plan.step)
                for start, bucket in acc.buckets.items()
                if start < first and bucket.holds_something()
            }
        )
        for instant in leaving:
            if instant >= at:
                break
            acc_ops.prune(acc, plan, instant)
            self._notify(slot, acc, instant, out, emitted_at=instant)

    def _earliest_due(self) -> float:
        """The earliest reset, timer or check of any statistic (``advance`` is O(1) before it)."""
        times = [t for due in self._meta["due"].values() for t in due.values() if t is not None]
        return min(times, default=float("inf"))

    def _reset(self, slot: _Slot, first: int, last: int, now: int) -> list[Row]:
        """Close every interval that started before ``first`` at ``first``; start them at ``last``."""
        out = []
        # Accumulators at rest are reset too, and stay at rest in the next interval.
        moved = slot.rest_start is not None and slot.rest_start < first
        rest = (last, last) if moved else (slot.rest_start, slot.rest_accrued)
        for suffix in slot.order:
            acc = slot.accs.get(suffix)
            resting = acc is None
            if resting:
                if not moved:
                    continue
                acc = self._acc(slot, suffix)
            if acc.bucket.start >= first:
                continue
            if slot.resets:
                row = self._row(slot, acc, first, "Reset", (acc.bucket.start, first))
                notification.remember(acc, row[4], row[5])
                out.append(row)
            acc_ops.reset(acc, slot.plan, last, now)
            if slot.mode == "Changes":
                value, state = slot.evaluate(acc, last)
                if notification.changed_enough(slot.stat, acc, value, state):
                    notification.remember(acc, value, state)
                    out.append(self._row(slot, acc, last, "Change", evaluated=(value, state)))
            if resting and not acc_ops.at_rest(acc, slot.plan, *rest):
                slot.accs[suffix] = acc  # no longer at rest: held
        slot.rest_start, slot.rest_accrued = rest
        return out

    # ------------------------------------------------------------------------------------ queries

    def finals(self, until_ms: int) -> list[dict[str, Any]]:
        """Resets due at or before ``until_ms`` (and other due records), then one ``Final`` record
        per (statistic, object seen) for the interval containing ``until_ms``."""
        return list(self.iter_finals(until_ms))

    def iter_finals(self, until_ms: int) -> Iterator[dict[str, Any]]:
        """:meth:`finals` one record at a time: a replay of 10,000 agents has 1.3 million Finals,
        which as one list would be most of its peak memory."""
        return iter_records(self.iter_finals_rows(until_ms))

    def iter_finals_rows(self, until_ms: int) -> Iterator[Row]:
        """:meth:`iter_finals`, its records as rows (``pipeline.stats.rows``)."""
        yield from self.advance_rows(until_ms)
        now = self._meta["clock"]
        row = self._row
        acc_of = self._acc
        for slot in self._slots:
            for suffix in slot.order:
                yield row(slot, acc_of(slot, suffix), now, "Final")

    def value(self, statistic_name: str, object_type: str, tenant: str, object_id: str,
              now_ms: int) -> dict[str, Any]:
        """The statistic's value for one object at ``now_ms`` (not before the clock), without
        changing any state; an object never seen gets the empty value."""
        slot = self._by_name[statistic_name]
        clock = self._meta["clock"]
        at = int(now_ms) if clock is None else max(int(clock), int(now_ms))
        suffix = object_key(object_type, tenant, object_id)
        acc = slot.accs.get(suffix)
        if acc is not None:
            acc = copy.deepcopy(acc)
        elif self._resting(slot, suffix):
            acc = self._acc(slot, suffix)  # made afresh
        else:
            acc = acc_ops.new_accumulator(slot.plan, object_type, tenant, object_id, at, at)
        if slot.plan.kind == "Growing":
            last = profiles.last_reset(slot.stat.profile, at)
            if acc.bucket.start < last:
                acc_ops.reset(acc, slot.plan, last, at)
        value, state = slot.evaluate(acc, at)
        return notification.record(
            slot.stat, object_type, tenant, object_id, value, state,
            categories.interval_bounds(acc, slot.plan, at), at, "Change",
        )

    # -------------------------------------------------------------------------------------- state

    def export_state(self, copy: bool = True) -> dict[str, Any]:
        """All state as JSON-compatible data: a deep copy, or with ``copy=False`` a view sharing the
        engine's own objects (fresh top level and ``meta``), for a caller that encodes it before the
        engine changes again — a checkpoint, where the copy through ``json`` cost as much as the rest
        of the export. The view's ``accumulators`` is an :class:`AccumulatorsView`: each one's JSON
        data is made as it is read, so the caller can encode them one at a time."""
        view = AccumulatorsView(self._slots, self)
        state = {"version": STATE_VERSION, "meta": dict(self._meta),
                 "accumulators": view if not copy else dict(view.items()), "objects": self._objects}
        return json.loads(json.dumps(state)) if copy else state

    def import_state(self, data: dict[str, Any]) -> None:
        """Replace all state with an ``export_state`` result (same configuration)."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported statistics state version {data.get('version')!r}")
        # The engine's own copy of everything it keeps. A dict's accumulators are copied one at a
        # time, and those of another mapping (a checkpoint's ``Decoded`` section) are decoded afresh
        # as they are read: either way the whole section is never held a second time.
        given = data["accumulators"]
        data = json.loads(json.dumps({k: dict(v.items()) if isinstance(v, Mapping) else v
                                      for k, v in data.items() if k != "accumulators"}))
        own = isinstance(given, dict)
        self._meta = data["meta"]
        self._objects = data["objects"]
        self._membership = {}
        self._rest_seen = {}
        for slot in self._slots:
            slot.accs, slot.order = {}, []
            slot.watch = None
            slot.rest_start = slot.rest_accrued = None
        for key, value in given.items():
            if own:
                value = json.loads(json.dumps(value))
            suffix = "/".join(value["o"])
            slot = self._by_name.get(key[: -len(suffix) - 1])
            if slot is not None:
                acc = Accumulator.from_json(slot.plan, value)
                acc.names = self._names(*value["o"])  # the object's shared names
                suffix = acc.names[0]
                slot.order.append(suffix)
                if not self._rest(slot, suffix, acc):
                    slot.accs[suffix] = acc
        for slot in self._slots:
            slot.order.sort()
        self._seen = self._rebuild_seen()
        for stat in self._stats:  # statistics added since the export get their schedule
            if self._meta["clock"] is not None and stat.name not in self._meta["due"]:
                self._meta["due"][stat.name] = self._schedule(stat, self._meta["clock"])
        self._next_due = float("-inf")

    def _rebuild_seen(self) -> set[str]:
        """Objects with an accumulator in every statistic of their object type."""
        held: dict[tuple[str, str, str], int] = {}
        for slot in self._slots:
            for suffix in slot.order:
                acc = slot.accs.get(suffix)
                names = acc.names if acc is not None else self._shared[suffix]
                obj = (names[1], names[2], names[3])
                held[obj] = held.get(obj, 0) + 1
        wanted = {t: sum(1 for s in self._stats if t in s.stat_type.objects) for t in OBJECT_TYPES}
        return {object_key(*obj) for obj, n in held.items() if n >= wanted[obj[0]]}

    def keys(self) -> list[str]:
        """Accumulator keys (``Statistic/ObjectType/TenantID/ObjectID``), sorted."""
        return sorted(f"{slot.stat.name}/{suffix}" for slot in self._slots for suffix in slot.order)

    @property
    def late(self) -> int:
        """Contributions dropped because their interval had already closed."""
        return sum(acc.late for slot in self._slots for acc in slot.accs.values())

    # -------------------------------------------------------------------------------------- merge

    def merge_from(self, other: StatEngine) -> None:
        """Merge another engine's accumulators (the same configuration, disjoint members' actions,
        the same clock) into this one: the whole from partials (``accumulator.merge``).

        Raises ``ValueError`` for a statistic whose category cannot be merged.
        """
        for slot, theirs in zip(self._slots, other._slots, strict=True):
            for suffix in theirs.order:
                acc = other._acc(theirs, suffix)
                if suffix not in slot.accs and not self._resting(slot, suffix):
                    slot.accs[suffix] = copy.deepcopy(acc)
                    bisect.insort(slot.order, suffix)
                else:
                    slot.accs[suffix] = acc_ops.merge(slot.plan, self._acc(slot, suffix), acc)
        for slot in self._slots:
            slot.watch = None
        for key, tracker in other._objects.items():
            self._objects.setdefault(key, copy.deepcopy(tracker))
        clocks = [c for c in (self._meta["clock"], other._meta["clock"]) if c is not None]
        if clocks and self._meta["clock"] is None:
            self._meta = copy.deepcopy(other._meta)
        self._seen = self._rebuild_seen()
        self._next_due = float("-inf")
