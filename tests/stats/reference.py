"""A tiny brute-force evaluator of statistics, written from statistics.md (and the engine rules in
docs/statistics-engine.md), for differential tests of the incremental engine.

It keeps the whole action history and recomputes every value from it: nothing is incremental, so
it is slow and obviously right rather than fast. Scope: the DNAction subject on Agent actions
(fanned out to the Agent, its GroupAgents and the Tenant), every non-state category, the four time
profiles; on-time streams (the clock follows EventTime); static groups; no filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.stats import profiles
from pipeline.stats.model import Statistic


@dataclass
class Completed:
    end: int
    duration: int
    start: int
    main: bool
    rel: bool
    index: int = -1  # position of the completing action in the history


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


class Reference:
    """Action history in, values out: ``add`` every action in order, then ask ``value``."""

    def __init__(self, groups: dict[str, frozenset[str]]) -> None:
        self.groups = groups
        self.history: list[dict[str, Any]] = []

    def add(self, action: dict[str, Any]) -> None:
        self.history.append(action)

    # ------------------------------------------------------------------------------- fan-out

    def objects_of(self, action: dict[str, Any]) -> list[tuple[str, str]]:
        agent = action["ObjectID"]
        groups = [("GroupAgents", g) for g in sorted(self.groups) if agent in self.groups[g]]
        return [("Agent", agent), *groups, ("Tenant", action["TenantID"])]

    def seen(self, stat: Statistic, obj: tuple[str, str]) -> int | None:
        """When the object was first touched by an action (an accumulator exists from then)."""
        if obj[0] not in stat.stat_type.objects:
            return None
        for action in self.history:
            if obj in self.objects_of(action):
                return action["EventTime"]
        return None

    # ------------------------------------------------------------------------------ instances

    def _derive(self, stat: Statistic, obj: tuple[str, str]):
        """Open instances, completions (in order) and CurrentNumber(M) changes of the object."""
        st = stat.stat_type
        opened: dict[str, tuple[int, bool, bool]] = {}
        done: list[Completed] = []
        changes: list[tuple[int, int, int]] = []  # (time, delta, position in the history)
        for index, a in enumerate(self.history):
            if obj not in self.objects_of(a):
                continue
            media = a.get("MediaTypeID")
            if st.media_types is not None and media is not None and media not in st.media_types:
                continue
            name, t = a["Action"], a["EventTime"]
            in_m, in_r = st.main_mask.matches(name), st.rel_mask.matches(name)
            if a["Kind"] == "Durable":
                key = f"{a['ObjectType']}:{a['ObjectID']}|{name}|{a.get('InteractionID') or ''}|{media or ''}"
                if a["Phase"] == "Start":
                    if key not in opened and (in_m or in_r):
                        opened[key] = (t, in_m, in_r)
                        if in_m:
                            changes.append((t, +1, index))
                    continue
                inst = opened.pop(key, None)
                if inst is not None and inst[1]:
                    changes.append((t, -1, index))
                dur = a.get("DurationMs")
                if dur is None:
                    dur = t - (a.get("StartTime") or (inst[0] if inst else t))
                start = a.get("StartTime") if a.get("StartTime") is not None else t - dur
                if in_m or in_r:
                    done.append(Completed(t, dur, start, in_m, in_r, index))
            elif in_m or in_r:
                if a["Kind"] == "Retrospective":
                    dur = a["DurationMs"]
                    start = a["StartTime"] if a.get("StartTime") is not None else t - dur
                else:
                    dur, start = 0, t
                done.append(Completed(t, dur, start, in_m, in_r, index))
        return opened, done, changes

    def sessions(self, agent: str) -> list[list[int | None]]:
        """SinceLogin sessions [login, logout, position of the login in the history] of an agent."""
        active: set[str] = set()
        out: list[list[int | None]] = []
        for index, a in enumerate(self.history):
            if a["ObjectID"] != agent or a["Action"] != "Active" or a["Kind"] != "Durable":
                continue
            key = f"{a.get('MediaTypeID') or ''}|{a.get('InteractionID') or ''}"
            before = bool(active)
            if a["Phase"] == "Start":
                active.add(key)
            else:
                active.discard(key)
            if active and not before:
                out.append([a["EventTime"], None, index])
            elif before and not active:
                out[-1][1] = a["EventTime"]
        return out

    def interval(self, stat: Statistic, obj: tuple[str, str], at: int) -> tuple[int | None, int | None]:
        """(start, end) of the interval a value at ``at`` reads; end None = still open."""
        prof = stat.profile
        if prof.kind == "Growing":
            return profiles.last_reset(prof, at), None
        if prof.kind == "Sliding":
            return profiles.window_start(prof, at), None
        if prof.kind == "SinceLogin" and obj[0] == "Agent":
            started = [s for s in self.sessions(obj[1]) if s[0] <= at]
            return (started[-1][0], started[-1][1]) if started else (None, None)
        return self.seen(stat, obj), None  # Selection, SinceLogin of groups: since first seen

    # --------------------------------------------------------------------------------- values

    def value(self, stat: Statistic, obj: tuple[str, str], at: int,
              interval: tuple[int | None, int | None] | None = None) -> float:
        """The category's value for ``obj`` at ``at`` from the whole history (seconds/count/percent)."""
        start, end = interval if interval is not None else self.interval(stat, obj, at)
        opened, done, changes = self._derive(stat, obj)
        category = stat.stat_type.category
        rng = stat.time_range

        def ranged(ms: int) -> bool:
            return rng is None or rng.contains(ms / 1000)

        if category.startswith("Current"):
            ages = [max(0, at - s) for s, m, _r in opened.values() if m]
            rel = sum(1 for _s, _m, r in opened.values() if r)
            within = sum(1 for x in ages if ranged(x))
            return {
                "CurrentNumber": float(len(ages)),
                "CurrentTime": sum(ages) / 1000,
                "CurrentMaxTime": max(ages, default=0) / 1000,
                "CurrentMinTime": min(ages, default=0) / 1000,
                "CurrentAverageTime": _div(sum(ages) / 1000, len(ages)),
                "CurrentRelativeNumberPercentage": 100 * _div(len(ages), rel),
                "CurrentNumberInTimeRange": float(within),
                "CurrentNumberInTimeRangePercentage": 100 * _div(within, rel),
                "CurrentContinuousTime": self._continuous(changes, at),
            }[category]
        if start is None:  # SinceLogin before the first login: the empty value
            return 0.0
        upto = at if end is None else min(at, end)
        if stat.profile.kind == "Selection":
            keep = max(1, stat.profile.count)
            main = [c for c in done if c.main][-keep:]
            rel_rows = [c for c in done if c.rel][-keep:]
            n_m, n_r = len(main), len(rel_rows)
            adj_m = t_m = sum(c.duration for c in main)
            t_r = sum(c.duration for c in rel_rows)
            durations = [c.duration for c in main]
            in_range = [c for c in main if ranged(c.duration)]
        else:
            # An agent's session starts at its login: what completed at that instant before the
            # login (earlier in the history) belongs to no session, as in the engine, which applies
            # actions in order.
            login_at = None
            if stat.profile.kind == "SinceLogin" and obj[0] == "Agent":
                login_at = [s for s in self.sessions(obj[1]) if s[0] == start][-1][2]
            inside = [c for c in done if (start < c.end or (start == c.end and (login_at is None
                                                                                or c.index > login_at)))
                      and (end is None or c.end <= end) and c.end <= at]
            if stat.profile.kind == "Growing":
                inside = [c for c in inside if c.end < (end if end is not None else at + 1)]
            main = [c for c in inside if c.main]
            rel_rows = [c for c in inside if c.rel]
            n_m, n_r = len(main), len(rel_rows)
            adj_m = sum(c.duration for c in main)
            t_m = sum(max(0, c.end - max(c.start, start)) for c in main)
            t_r = sum(max(0, c.end - max(c.start, start)) for c in rel_rows)
            durations = [c.duration for c in main]
            in_range = [c for c in main if ranged(c.duration)]
        elapsed = max(0, upto - start)
        if category in ("MaxNumber", "MinNumber", "AverageOfCurrentNumber"):
            login_at = None
            if stat.profile.kind == "SinceLogin" and obj[0] == "Agent":
                login_at = [s for s in self.sessions(obj[1]) if s[0] == start][-1][2]
            counts, area = self._timeline(changes, start, upto, login_at)
            return {
                "MaxNumber": float(max(counts)),
                "MinNumber": float(min(counts)),
                "AverageOfCurrentNumber": _div(area, elapsed),
            }[category]
        return {
            "TotalNumber": float(n_m),
            "TotalAdjustedNumber": float(n_m),
            "TotalTime": t_m / 1000,
            "TotalAdjustedTime": adj_m / 1000,
            "AverageTime": _div(adj_m / 1000, n_m),
            "MaxTime": max(durations, default=0) / 1000,
            "MinTime": min(durations, default=0) / 1000,
            "AverageNumberPerRelativeHour": _div(n_m * 3600, t_r / 1000),
            "ElapsedTimePercentage": 100 * _div(t_m, elapsed),
            "RelativeNumberPercentage": 100 * _div(n_m, n_r),
            "RelativeTimePercentage": 100 * _div(t_m, t_r),
            "TotalNumberInTimeRange": float(len(in_range)),
            "TotalTimeInTimeRange": sum(c.duration for c in in_range) / 1000,
            "TotalNumberInTimeRangePercentage": 100 * _div(len(in_range), n_r),
            "TotalNumberPerSecond": _div(n_m, elapsed / 1000),
        }[category]

    @staticmethod
    def _timeline(changes: list[tuple[int, int, int]], start: int, upto: int,
                  login_at: int | None) -> tuple[list[int], int]:
        """Every CurrentNumber(M) value taken in [start, upto] (the one at start included) and its
        integral over that span. A session starts with the count of what came before its login."""

        def before(t: int, index: int) -> bool:
            return t < start or (login_at is not None and t == start and index < login_at)

        count = sum(d for t, d, i in changes if before(t, i))
        counts, area, last = [count], 0, start
        for t, d, i in changes:
            if before(t, i) or t > upto:
                continue
            area += count * (t - last)
            last = t
            count += d
            counts.append(count)
        area += count * (upto - last)
        return counts, area

    @staticmethod
    def _continuous(changes: list[tuple[int, int, int]], at: int) -> float:
        """Seconds CurrentNumber(M) has stayed above 0; a drop and a rise at one instant is no break."""
        count, since, dropped, since_prev = 0, None, None, None
        for t, d, _i in changes:
            before, count = count, count + d
            if before <= 0 < count:
                since = since_prev if dropped == t else t
                dropped = None
            elif count <= 0 < before:
                dropped, since_prev, since = t, since, None
        return 0.0 if since is None else max(0, at - since) / 1000
