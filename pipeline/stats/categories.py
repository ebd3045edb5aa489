"""Category values (statistics.md "Categories") computed from an accumulator at a clock time.

Each statistic gets one evaluator, compiled once (:func:`compile_evaluator`): a function of
(accumulator, time) that reads only the sums its category needs — the window's bucket (Growing,
SinceLogin, Selection) or the Sliding running totals — plus what moves with the clock (the ongoing
part of the CurrentNumber integral, the ongoing status time). Evaluation never changes what a value
depends on (a Sliding window only drops buckets that can never count again), so queries,
notifications and Finals all read the same function. Durations are kept in ms and reported in
seconds; a division by zero gives 0; the min/max of nothing is 0.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.stats.accumulator import (
    OWN_OBJECT_TYPES,
    STATE_CATEGORIES,
    STATUS_SUBJECTS,
    Accumulator,
    Bucket,
    Plan,
    prune,
)
from pipeline.stats.model import Statistic

#: Categories whose value moves with the clock alone (re-evaluated by the notifier).
CLOCK_CATEGORIES = frozenset(
    {
        "CurrentTime", "CurrentMaxTime", "CurrentMinTime", "CurrentAverageTime", "CurrentNumberInTimeRange",
        "CurrentNumberInTimeRangePercentage", "CurrentContinuousTime", "AverageOfCurrentNumber",
        "ElapsedTimePercentage", "TotalNumberPerSecond",
    }
)
#: Clock-moved Current categories whose value is 0 while CurrentNumber(M) is 0.
ZERO_WHEN_CLOSED = frozenset(
    {
        "CurrentTime", "CurrentMaxTime", "CurrentMinTime", "CurrentAverageTime", "CurrentNumberInTimeRange",
        "CurrentNumberInTimeRangePercentage", "CurrentContinuousTime",
    }
)
#: Categories that also move with the clock for status subjects (the ongoing status time counts).
STATUS_CLOCK_CATEGORIES = frozenset({"TotalTime", "RelativeTimePercentage", "AverageNumberPerRelativeHour"})

Evaluator = Callable[[Accumulator, int], float]


def moves_with_clock(stat: Statistic) -> bool:
    """Whether the value can change without an action (so the notifier must look at it)."""
    category = stat.stat_type.category
    if category in STATE_CATEGORIES:
        return False
    if category in CLOCK_CATEGORIES or stat.profile.kind == "Sliding":
        return True
    return stat.stat_type.subject in STATUS_SUBJECTS and category in STATUS_CLOCK_CATEGORIES


def moves_only_with_window(stat: Statistic) -> bool:
    """A Sliding value that changes without an action only when a bucket leaves the window."""
    category = stat.stat_type.category
    return (
        stat.profile.kind == "Sliding"
        and category not in CLOCK_CATEGORIES
        and not (stat.stat_type.subject in STATUS_SUBJECTS and category in STATUS_CLOCK_CATEGORIES)
    )


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


class Interval:
    """The interval's sums at one time, read from the accumulator without copying its buckets."""

    __slots__ = ("sums", "start", "at", "live", "acc", "plan")

    def __init__(self, acc: Accumulator, plan: Plan, now: int) -> None:
        self.acc, self.plan, self.at, self.live = acc, plan, now, True
        if plan.kind == "Sliding":
            self.start = plan.window_start(now)
            prune(acc, plan, now)  # buckets before the window never count again
            self.sums: Bucket | None = acc.total
        elif acc.bucket is None:  # SinceLogin before the first login: the empty value
            self.start, self.sums, self.live = None, None, False
        else:
            self.sums, self.start = acc.bucket, acc.bucket.start
            if plan.kind == "SinceLogin":
                if acc.logout is not None:
                    self.at = min(now, acc.logout)
                self.live = not acc.closed

    @property
    def elapsed(self) -> int:
        return 0 if self.start is None else max(0, self.at - self.start)

    def number(self, main: bool = True) -> int:
        acc = self.acc
        if self.plan.kind == "Selection":
            return len(acc.selected_main if main else acc.selected_rel)
        if self.sums is None:
            return 0
        return self.sums.number_main if main else self.sums.number_rel

    def adjusted(self) -> int:
        if self.plan.kind == "Selection":
            return sum(c.duration for c in self.acc.selected_main)
        return 0 if self.sums is None else self.sums.adjusted_main

    def time(self, main: bool = True) -> int:
        """TotalTime (ms), with the ongoing status time of a status subject."""
        acc, plan = self.acc, self.plan
        if plan.kind == "Selection":
            return sum(c.duration for c in (acc.selected_main if main else acc.selected_rel))
        if self.sums is None:
            return 0
        total = self.sums.time_main if main else self.sums.time_rel
        if plan.status_time:
            at, begin = self.at, self.start
            for inst in acc.open.values():
                if inst.main if main else inst.rel:
                    total += max(0, at - max(inst.start, begin))
        return total

    def durations(self) -> tuple[int | None, int | None]:
        """(max, min) duration of completions matching M."""
        acc, plan = self.acc, self.plan
        if plan.kind == "Selection":
            ds = [c.duration for c in acc.selected_main]
            return (max(ds), min(ds)) if ds else (None, None)
        if plan.kind == "Sliding":
            his = [b.max_duration for b in acc.buckets.values() if b.max_duration is not None]
            los = [b.min_duration for b in acc.buckets.values() if b.min_duration is not None]
            return (max(his) if his else None, min(los) if los else None)
        if self.sums is None:
            return None, None
        return self.sums.max_duration, self.sums.min_duration

    def in_range(self) -> tuple[int, int]:
        """(number, time ms) of completions matching M with a duration in the time range."""
        if self.plan.kind == "Selection":
            rows = [c for c in self.acc.selected_main if c.in_range]
            return len(rows), sum(c.duration for c in rows)
        if self.sums is None:
            return 0, 0
        return self.sums.range_number, self.sums.range_time

    def current_extremes(self) -> tuple[int | None, int | None]:
        """(max, min) of CurrentNumber(M) over the interval, the current count included."""
        acc = self.acc
        if self.plan.kind == "Sliding":
            buckets = list(acc.buckets.values())
        elif self.sums is None:
            return None, None
        else:
            buckets = [self.sums]
        his = [b.max_current for b in buckets if b.max_current is not None]
        los = [b.min_current for b in buckets if b.min_current is not None]
        if self.live:
            his.append(acc.count)
            los.append(acc.count)
        return (max(his) if his else None, min(los) if los else None)

    def area(self) -> int:
        """∫ CurrentNumber(M) dt over the interval so far (count·ms)."""
        if self.sums is None:
            return 0
        area = self.sums.area
        if self.live:
            area += self.acc.count * max(0, self.at - max(self.acc.accrued_to, self.start))
        return area


def _interval_categories() -> dict[str, Callable[[Interval], float]]:
    def seconds(ms: float) -> float:
        return ms / 1000

    return {
        "TotalNumber": lambda v: float(v.number()),
        "TotalAdjustedNumber": lambda v: float(v.number()),
        "TotalTime": lambda v: seconds(v.time()),
        "TotalAdjustedTime": lambda v: seconds(v.adjusted()),
        "AverageTime": lambda v: _div(seconds(v.adjusted()), v.number()),
        "MaxTime": lambda v: seconds(v.durations()[0] or 0),
        "MinTime": lambda v: seconds(v.durations()[1] or 0),
        "MaxNumber": lambda v: float(v.current_extremes()[0] or 0),
        "MinNumber": lambda v: float(v.current_extremes()[1] or 0),
        "AverageOfCurrentNumber": lambda v: _div(v.area(), v.elapsed),
        "AverageNumberPerRelativeHour": lambda v: _div(v.number() * 3600, seconds(v.time(main=False))),
        "ElapsedTimePercentage": lambda v: 100 * _div(v.time(), v.elapsed),
        "RelativeNumberPercentage": lambda v: 100 * _div(v.number(), v.number(main=False)),
        "RelativeTimePercentage": lambda v: 100 * _div(v.time(), v.time(main=False)),
        "TotalNumberPerSecond": lambda v: _div(v.number(), seconds(v.elapsed)),
        "TotalNumberInTimeRange": lambda v: float(v.in_range()[0]),
        "TotalTimeInTimeRange": lambda v: seconds(v.in_range()[1]),
        "TotalNumberInTimeRangePercentage": lambda v: 100 * _div(v.in_range()[0], v.number(main=False)),
    }


INTERVAL_CATEGORIES = _interval_categories()


def _ages(acc: Accumulator, now: int) -> list[int]:
    return [max(0, now - inst.start) for inst in acc.open.values() if inst.main]


def _rel_number(acc: Accumulator) -> int:
    return sum(1 for inst in acc.open.values() if inst.rel)


def _current_categories(stat: Statistic) -> dict[str, Evaluator]:
    rng = stat.time_range

    def in_range(acc: Accumulator, now: int) -> int:
        return sum(1 for a in _ages(acc, now) if rng is None or rng.contains(a / 1000))

    def oldest(acc: Accumulator, now: int) -> float:
        starts = [inst.start for inst in acc.open.values() if inst.main]
        return max(0, now - min(starts)) / 1000 if starts else 0.0

    def youngest(acc: Accumulator, now: int) -> float:
        starts = [inst.start for inst in acc.open.values() if inst.main]
        return max(0, now - max(starts)) / 1000 if starts else 0.0

    return {
        "CurrentNumber": lambda acc, now: float(acc.count),
        "CurrentTime": lambda acc, now: sum(_ages(acc, now)) / 1000,
        "CurrentMaxTime": oldest,
        "CurrentMinTime": youngest,
        "CurrentAverageTime": lambda acc, now: _div(sum(_ages(acc, now)) / 1000, acc.count),
        "CurrentRelativeNumberPercentage": lambda acc, now: 100 * _div(acc.count, _rel_number(acc)),
        "CurrentNumberInTimeRange": lambda acc, now: float(in_range(acc, now)),
        "CurrentNumberInTimeRangePercentage": lambda acc, now: (
            100 * _div(in_range(acc, now), _rel_number(acc))
        ),
        "CurrentContinuousTime": lambda acc, now: (
            0.0 if acc.continuous_since is None else max(0, now - acc.continuous_since) / 1000
        ),
    }


def _sums_only(plan: Plan) -> Callable[[Bucket], float] | None:
    """Categories that read the window's completion sums alone: no clock, no Selection list."""
    if plan.kind not in ("Growing", "Sliding"):
        return None
    table: dict[str, Callable[[Bucket], float]] = {
        "TotalNumber": lambda b: float(b.number_main),
        "TotalAdjustedNumber": lambda b: float(b.number_main),
        "TotalAdjustedTime": lambda b: b.adjusted_main / 1000,
        "AverageTime": lambda b: _div(b.adjusted_main / 1000, b.number_main),
        "RelativeNumberPercentage": lambda b: 100 * _div(b.number_main, b.number_rel),
        "TotalNumberInTimeRange": lambda b: float(b.range_number),
        "TotalTimeInTimeRange": lambda b: b.range_time / 1000,
        "TotalNumberInTimeRangePercentage": lambda b: 100 * _div(b.range_number, b.number_rel),
    }
    if not plan.status_time:
        table["TotalTime"] = lambda b: b.time_main / 1000
        table["RelativeTimePercentage"] = lambda b: 100 * _div(b.time_main, b.time_rel)
    return table.get(plan.stat.stat_type.category)


def reads_instances(plan: Plan) -> bool:
    """Whether the value reads the ongoing instances themselves (``acc.open``), not only their
    count and the window's sums: stage 4 merges the partials of the others without them."""
    return not (_sums_only(plan) is not None or plan.stat.stat_type.category == "CurrentNumber")


#: Growing counters read straight from the interval's bucket (the same values as ``_sums_only``).
_GROWING_COUNTERS: dict[str, Evaluator] = {
    "TotalNumber": lambda acc, now: float(acc.bucket.number_main),
    "TotalAdjustedNumber": lambda acc, now: float(acc.bucket.number_main),
    "TotalAdjustedTime": lambda acc, now: acc.bucket.adjusted_main / 1000,
}


def compile_evaluator(plan: Plan) -> Evaluator:
    """The value function of the statistic's category (raises on an unknown category)."""
    stat = plan.stat
    category = stat.stat_type.category
    direct = _sums_only(plan)
    if direct is not None and plan.kind == "Growing":
        counter = _GROWING_COUNTERS.get(category)
        if counter is not None:  # the most common statistics: one attribute read, no nested call
            return counter
        return lambda acc, now: direct(acc.bucket)
    if direct is not None:  # Sliding: the running totals once the window has moved to ``now``

        def sliding(acc: Accumulator, now: int) -> float:
            oldest = acc.oldest
            if oldest is not None and oldest < plan.window_start(now):  # ``prune``'s own test, first
                prune(acc, plan, now)
            return direct(acc.total)

        return sliding
    if category.startswith("Current"):
        current = _current_categories(stat).get(category)
        if current is None:
            raise ValueError(f"statistic {stat.name!r}: unknown category {category!r}")
        return current
    fn = INTERVAL_CATEGORIES.get(category)
    if fn is None:
        raise ValueError(f"statistic {stat.name!r}: unknown category {category!r}")
    return lambda acc, now: fn(Interval(acc, plan, now))


def current_state(acc: Accumulator, stat: Statistic) -> dict | None:
    """CurrentState(-Reasons) of an Agent or Place; None for other objects (no single status)."""
    if acc.object_type not in OWN_OBJECT_TYPES:
        return None
    entry = acc.members.get(f"{acc.object_type}:{acc.object_id}")
    if entry is None:
        return {"Status": "LoggedOut", "Media": {}, "DoNotDisturb": False, "Reason": None, "Since": acc.seen}
    with_reasons = stat.stat_type.category == "CurrentStateReasons"
    return {
        "Status": entry.status,
        "Media": entry.media,  # the view's own, never changed in place: one per status, not per record
        "DoNotDisturb": bool(entry.dnd),
        "Reason": (dict(entry.reason) if entry.reason else None) if with_reasons else None,
        "Since": entry.since,
    }


def interval_bounds(acc: Accumulator, plan: Plan, now: int) -> tuple[int | None, int | None]:
    """(IntervalStart, IntervalEnd) reported with a value at ``now``."""
    if plan.kind == "Sliding":
        return plan.window_start(now), None
    if acc.bucket is None:
        return None, None
    return acc.bucket.start, acc.logout if plan.kind == "SinceLogin" else None


def compile_bounds(plan: Plan) -> Callable[[Accumulator, int], tuple[int | None, int | None]]:
    """:func:`interval_bounds` specialised to the statistic's time profile (one call per record)."""
    if plan.kind == "Growing":
        return lambda acc, now: (acc.bucket.start, None)
    return lambda acc, now: interval_bounds(acc, plan, now)


def evaluate(acc: Accumulator, plan: Plan, now: int) -> float:
    """The category's value at ``now`` (uncompiled convenience for tests and queries)."""
    return compile_evaluator(plan)(acc, now)


__all__ = [
    "CLOCK_CATEGORIES", "STATUS_CLOCK_CATEGORIES", "Interval", "compile_bounds", "compile_evaluator",
    "current_state",
    "evaluate", "interval_bounds", "moves_only_with_window", "moves_with_clock",
]
