"""The statistics engine: action records in, StatValue records out, with an explicit clock.

Pure and deterministic (no I/O, no wall clock): the caller passes ``now`` and the engine keeps the
largest time it has seen (it never goes backwards). State is plain JSON-serialisable data:

- ``accumulators``: one dict per (statistic, object) under ``Statistic/ObjectType/TenantID/ObjectID``
  (see ``pipeline.stats.accumulator``) — what a Faust/RocksDB table would hold, one key each;
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
from typing import Any

from pipeline.records.keys import object_key
from pipeline.records.keys import stat_key as _key
from pipeline.records.times import parse_time
from pipeline.stats import accumulator as acc_ops
from pipeline.stats import categories, notification, profiles, status
from pipeline.stats.config import Config
from pipeline.stats.model import OBJECT_TYPES, Groups, Statistic

STATE_VERSION = 1


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


class StatEngine:
    """Applies action records to every configured statistic and answers their values."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._stats: tuple[Statistic, ...] = tuple(config.statistics)
        self._by_name: dict[str, Statistic] = {s.name: s for s in self._stats}
        self._acc: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, dict[str, Any]] = {}
        self._index: dict[str, list[str]] = {s.name: [] for s in self._stats}
        self._meta: dict[str, Any] = {
            "clock": None,
            "due": {},
            "groups": [[None, _groups_to_json(config.groups)]],
            "pending_logout": [],
        }
        self._groups_cache: dict[int | None, Groups] = {}
        self._relevant: dict[str, tuple[Statistic, ...]] = {}
        self._seen: set[tuple[str, str, str]] = set()  # objects every statistic has an accumulator for

    # ------------------------------------------------------------------------------------ clock

    @property
    def clock(self) -> int | None:
        return self._meta["clock"]

    def _tick_clock(self, now: int) -> int:
        clock = self._meta["clock"]
        now = int(now) if clock is None else max(int(clock), int(now))
        if clock is None:
            self._init_due(now)
        self._meta["clock"] = now
        return now

    def _init_due(self, now: int) -> None:
        for stat in self._stats:
            self._meta["due"][stat.name] = self._schedule(stat, now)

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

    def _groups_at(self, t: int) -> Groups:
        current = self._meta["groups"][0]
        for entry in self._meta["groups"]:
            if entry[0] is None or entry[0] <= t:
                current = entry
        cached = self._groups_cache.get(current[0])
        if cached is None:
            cached = self._groups_cache[current[0]] = _groups_from_json(current[1])
        return cached

    def set_groups(self, groups: Groups, at_ms: int) -> list[dict[str, Any]]:
        """New group membership from ``at_ms``: leavers' ongoing instances complete there for the
        group; joiners' current status is counted from there (status subjects)."""
        out = self.advance(at_ms)
        now = self._meta["clock"]
        old = self._groups_at(at_ms)
        history = [e for e in self._meta["groups"] if e[0] != int(at_ms)]
        history.append([int(at_ms), _groups_to_json(groups)])
        history.sort(key=lambda e: -1 if e[0] is None else e[0])
        self._meta["groups"] = history
        self._groups_cache = {}
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

    def _leave(self, gtype: str, group: str, member: str, at: int, now: int) -> list[dict[str, Any]]:
        out = []
        for stat in self._stats:
            for key in list(self._index[stat.name]):
                acc = self._acc[key]
                if acc["o"][0] == gtype and acc["o"][2] == group:
                    if acc_ops.remove_member(acc, stat, member, at, now):
                        out += self._on_change(stat, acc, now)
        return out

    def _join(self, gtype: str, group: str, member_type: str, member_id: str, at: int, now: int) -> list:
        out = []
        for okey in sorted(self._objects):
            otype, tenant, oid = self._objects[okey]["o"]
            if otype != member_type or oid != member_id:
                continue
            for stat in self._stats:
                if gtype not in stat.stat_type.objects or not acc_ops.uses_status(stat):
                    continue
                acc, _new = self._get_acc(stat, gtype, tenant, group, at, now)
                view = status.status_view(self._objects[okey], stat.stat_type.media_types)
                if acc_ops.apply_status(acc, stat, f"{member_type}:{member_id}", view, at, now):
                    out += self._on_change(stat, acc, now)
        return out

    # ----------------------------------------------------------------------------------- actions

    def _get_acc(self, stat: Statistic, otype: str, tenant: str, oid: str, t: int, now: int):
        key = _key(stat.name, otype, tenant, oid)
        acc = self._acc.get(key)
        if acc is not None:
            return acc, False
        acc = acc_ops.new_accumulator(stat, otype, min(t, now), now)
        acc["o"] = [otype, tenant, oid]
        self._acc[key] = acc
        bisect.insort(self._index[stat.name], key)  # sorted: the same record order after a restore
        return acc, True

    def _targets(self, otype: str, oid: str, tenant: str, t: int) -> list[tuple[str, str]]:
        if otype == "Agent":
            groups = self._groups_at(t).groups_of_agent(oid)
            return [("Agent", oid)] + [("GroupAgents", g) for g in groups] + [("Tenant", tenant)]
        if otype == "Place":
            return [("Place", oid)] + [("GroupPlaces", g) for g in self._groups_at(t).groups_of_place(oid)]
        return [(otype, oid)]

    def on_action(self, action: dict[str, Any], now_ms: int) -> list[dict[str, Any]]:
        """Apply one action record; returns the records it triggers (resets due first)."""
        t = parse_time(action["EventTime"])
        if not isinstance(action["EventTime"], int):
            action = {**action, "EventTime": t}
        for field in ("StartTime",):
            if action.get(field) is not None and not isinstance(action[field], int):
                action = {**action, field: parse_time(action[field], field)}
        out = self.advance(max(int(now_ms), t))
        now = self._meta["clock"]
        otype, oid, tenant = action["ObjectType"], action["ObjectID"], action.get("TenantID") or ""
        member = f"{otype}:{oid}"
        tracker, tracker_changed, login_event = None, False, None
        if otype in acc_ops.OWN_OBJECT_TYPES:
            okey = object_key(otype, tenant, oid)
            tracker = self._objects.setdefault(okey, {**status.new_tracker(), "o": [otype, tenant, oid]})
            was_in = status.logged_in(tracker)
            tracker_changed = status.apply_action(tracker, action)
            is_in = status.logged_in(tracker)
            login_event = "login" if is_in and not was_in else "logout" if was_in and not is_in else None
        targets = self._targets(otype, oid, tenant, t)
        # A status is a present fact: it goes to the groups the member is in now, even when the
        # action is late and counts (as an action) for the groups of its EventTime.
        targets_now = targets if t >= now else self._targets(otype, oid, tenant, now)
        touched = {(tt, tenant, ti) for tt, ti in (*targets, *targets_now)}
        # Once every statistic holds an accumulator for these objects ("seen"), only the statistics
        # whose masks name this action (or that follow status) can change: skip the others.
        if login_event is None and touched <= self._seen:
            stats = self._stats_for(action["Action"])
        else:
            stats = self._stats
        for stat in stats:
            by_status = acc_ops.uses_status(stat)
            for target_type, target_id in targets_now if by_status else targets:
                if target_type not in stat.stat_type.objects:
                    continue
                acc, new = self._get_acc(stat, target_type, tenant, target_id, t, now)
                own = target_type == otype and stat.profile.kind == "SinceLogin" and tracker is not None
                changed = new
                if own:
                    lo = acc_ops.pending_logout(acc, stat)
                    if lo is not None and (t > lo or login_event == "login"):
                        out += self._close_session(stat, acc, now)
                    if login_event == "login":
                        acc_ops.login(acc, stat, t, now)
                        changed = True
                if by_status:
                    if tracker is not None and (tracker_changed or member not in acc["mem"]):
                        view = status.status_view(tracker, stat.stat_type.media_types)
                        changed = acc_ops.apply_status(acc, stat, member, view, t, now) or changed
                else:
                    changed = acc_ops.apply_action(acc, stat, action, member, now) or changed
                if own and login_event == "logout":
                    acc_ops.logout(acc, t)
                    key = _key(stat.name, target_type, tenant, target_id)
                    if key not in self._meta["pending_logout"]:
                        self._meta["pending_logout"].append(key)
                if changed:
                    out += self._on_change(stat, acc, now)
        if stats is self._stats:
            self._seen |= touched
        return out

    def _stats_for(self, action_name: str) -> tuple[Statistic, ...]:
        """Statistics an action of this name can change once its objects are seen (cached)."""
        found = self._relevant.get(action_name)
        if found is None:
            found = self._relevant[action_name] = tuple(
                s for s in self._stats
                if acc_ops.uses_status(s)
                or s.stat_type.main_mask.matches(action_name)
                or s.stat_type.rel_mask.matches(action_name)
            )
        return found

    # ----------------------------------------------------------------------------- notification

    def _evaluate(self, stat: Statistic, acc: dict[str, Any], at: int) -> tuple[float | None, dict | None]:
        if stat.stat_type.category in acc_ops.STATE_CATEGORIES:
            return None, categories.current_state(acc, stat, acc["o"][0], acc["o"][2])
        return float(categories.evaluate(acc, stat, at)), None

    def _record(self, stat: Statistic, acc: dict[str, Any], at: int, reason: str,
                interval: tuple[int | None, int | None] | None = None) -> dict[str, Any]:
        value, state = self._evaluate(stat, acc, at)
        bounds = interval if interval is not None else categories.interval_bounds(acc, stat, at)
        otype, tenant, oid = acc["o"]
        clock = self._meta["clock"]
        return notification.record(stat, otype, tenant, oid, value, state, bounds, clock, reason)

    def _on_change(self, stat: Statistic, acc: dict[str, Any], now: int) -> list[dict[str, Any]]:
        """Changes mode: a record when the value moved enough since the last one sent."""
        if stat.notification.mode != "Changes":
            return []
        rec = self._record(stat, acc, now, "Change")
        if not notification.changed_enough(stat, acc["ns"], rec["Value"], rec["State"]):
            return []
        notification.remember(acc["ns"], rec["Value"], rec["State"])
        return [rec]

    def _close_session(self, stat: Statistic, acc: dict[str, Any], now: int) -> list[dict[str, Any]]:
        lo = acc["w"]["lo"]
        out = []
        if notification.sends_resets(stat):
            rec = self._record(stat, acc, lo, "Reset", (acc["w"]["b"]["s"], lo))
            notification.remember(acc["ns"], rec["Value"], rec["State"])
            out.append(rec)
        acc_ops.close_session(acc, stat, now)
        key = _key(stat.name, *acc["o"])
        if key in self._meta["pending_logout"]:
            self._meta["pending_logout"].remove(key)
        return out

    def advance(self, now_ms: int) -> list[dict[str, Any]]:
        """Move the clock: SinceLogin sessions close, Growing resets (closed values, then the new
        interval), Time-mode timers, and Changes-mode checks of clock-moved values."""
        now = self._tick_clock(now_ms)
        out: list[dict[str, Any]] = []
        for key in list(self._meta["pending_logout"]):
            acc = self._acc[key]
            if acc["w"]["lo"] < now:
                out += self._close_session(self._by_name[self._stat_name(key)], acc, now)
        for stat in self._stats:
            due = self._meta["due"][stat.name]
            if due["reset"] is not None and due["reset"] <= now:
                # However far the clock jumped, one pass: the interval that had data closes at its
                # reset, the intervals after it (no action can have reached them) are skipped, and
                # the current one starts at the last reset — O(objects), not O(objects × resets).
                current = profiles.last_reset(stat.profile, now)
                out += self._reset(stat, due["reset"], now, current)
                due["reset"] = profiles.next_reset(stat.profile, current)
            if due["tick"] is not None and due["tick"] <= now:
                for key in self._index[stat.name]:
                    out.append(self._record(stat, self._acc[key], now, "Timer"))
                due["tick"] = notification.next_tick(stat, now)
            if due["check"] is not None and due["check"] <= now:
                window_only = categories.moves_only_with_window(stat)
                for key in self._index[stat.name]:
                    acc = self._acc[key]
                    if acc_ops.prune(acc, stat, now) == 0 and window_only:
                        continue  # nothing left the window: the value cannot have moved
                    out += self._on_change(stat, acc, now)
                due["check"] = notification.next_check(stat, now)
        return out

    def _stat_name(self, key: str) -> str:
        # The statistic name is what precedes "/ObjectType/TenantID/ObjectID" (ids may hold "/").
        return key[: -len("/".join(self._acc[key]["o"])) - 1]

    def _reset(self, stat: Statistic, at: int, now: int, current: int | None = None) -> list[dict[str, Any]]:
        """Growing: close the intervals still open at the reset ``at`` (a ``Reset`` record each) and
        start the interval beginning at ``current`` (default ``at``; later when the clock jumped over
        whole intervals, which then send nothing: nothing happened in them)."""
        current = at if current is None else current
        out = []
        for key in self._index[stat.name]:
            acc = self._acc[key]
            if acc["w"]["b"]["s"] >= current:
                continue
            if acc["w"]["b"]["s"] < at:
                if notification.sends_resets(stat):
                    rec = self._record(stat, acc, at, "Reset", (acc["w"]["b"]["s"], at))
                    notification.remember(acc["ns"], rec["Value"], rec["State"])
                    out.append(rec)
                acc_ops.reset(acc, stat, at, now)
            if current > at:
                acc_ops.reset(acc, stat, current, now)  # drops what accrued over the skipped intervals
            if stat.notification.mode == "Changes":
                rec = self._record(stat, acc, current, "Change")
                if notification.changed_enough(stat, acc["ns"], rec["Value"], rec["State"]):
                    notification.remember(acc["ns"], rec["Value"], rec["State"])
                    out.append(rec)
        return out

    # ------------------------------------------------------------------------------------ queries

    def finals(self, until_ms: int) -> list[dict[str, Any]]:
        """Resets due at or before ``until_ms`` (and other due records), then one ``Final`` record
        per (statistic, object seen) for the interval containing ``until_ms``."""
        out = self.advance(until_ms)
        now = self._meta["clock"]
        for stat in self._stats:
            for key in sorted(self._index[stat.name]):
                out.append(self._record(stat, self._acc[key], now, "Final"))
        return out

    def value(self, statistic_name: str, object_type: str, tenant: str, object_id: str,
              now_ms: int) -> dict[str, Any]:
        """The statistic's value for one object at ``now_ms`` (not before the clock), without
        changing any state; an object never seen gets the empty value."""
        stat = self._by_name[statistic_name]
        clock = self._meta["clock"]
        at = int(now_ms) if clock is None else max(int(clock), int(now_ms))
        acc = self._acc.get(_key(stat.name, object_type, tenant, object_id))
        if acc is None:
            acc = acc_ops.new_accumulator(stat, object_type, at, at)
            acc["o"] = [object_type, tenant, object_id]
        else:
            acc = copy.deepcopy(acc)
        if stat.profile.kind == "Growing":
            last = profiles.last_reset(stat.profile, at)
            if acc["w"]["b"]["s"] < last:
                acc_ops.reset(acc, stat, last, at)
        value, state = self._evaluate(stat, acc, at)
        return notification.record(
            stat, object_type, tenant, object_id, value, state, categories.interval_bounds(acc, stat, at),
            at, "Change",
        )

    # -------------------------------------------------------------------------------------- state

    def export_state(self) -> dict[str, Any]:
        """All state as JSON-compatible data (a deep copy)."""
        state = {
            "version": STATE_VERSION, "meta": self._meta, "accumulators": self._acc, "objects": self._objects,
        }
        return json.loads(json.dumps(state))

    def import_state(self, data: dict[str, Any]) -> None:
        """Replace all state with an ``export_state`` result (same configuration)."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported statistics state version {data.get('version')!r}")
        data = json.loads(json.dumps(data))
        self._meta = data["meta"]
        self._acc = data["accumulators"]
        self._objects = data["objects"]
        self._groups_cache = {}
        self._index = {s.name: [] for s in self._stats}
        for key in sorted(self._acc):
            name = self._stat_name(key)
            if name in self._index:
                self._index[name].append(key)
        self._seen = self._rebuild_seen()
        for stat in self._stats:  # statistics added since the export get their schedule
            if self._meta["clock"] is not None and stat.name not in self._meta["due"]:
                self._meta["due"][stat.name] = self._schedule(stat, self._meta["clock"])

    def _rebuild_seen(self) -> set[tuple[str, str, str]]:
        """Objects with an accumulator in every statistic of their object type."""
        held: dict[tuple[str, str, str], int] = {}
        for acc in self._acc.values():
            obj = tuple(acc["o"])
            held[obj] = held.get(obj, 0) + 1
        wanted = {t: sum(1 for s in self._stats if t in s.stat_type.objects) for t in OBJECT_TYPES}
        return {obj for obj, n in held.items() if n >= wanted[obj[0]]}

    def keys(self) -> list[str]:
        """Accumulator keys (``Statistic/ObjectType/TenantID/ObjectID``), sorted."""
        return sorted(self._acc)

    @property
    def late(self) -> int:
        """Contributions dropped because their interval had already closed."""
        return sum(acc["late"] for acc in self._acc.values())
