"""Category values (statistics.md "Categories") computed from an accumulator at a clock time.

Evaluation never changes the accumulator, so queries, notifications and Finals all read the same
function. :func:`interval_view` folds the time-profile window into one set of sums (the interval);
:func:`evaluate` turns it into the category's value. Durations are kept in ms and reported in
seconds; a division by zero gives 0; the min/max of nothing is 0.
"""

from __future__ import annotations

from typing import Any

from pipeline.stats import profiles
from pipeline.stats.accumulator import OWN_OBJECT_TYPES, STATE_CATEGORIES, STATUS_SUBJECTS
from pipeline.stats.model import Statistic

#: Categories whose value moves with the clock alone (re-evaluated by the notifier).
CLOCK_CATEGORIES = frozenset(
    {
        "CurrentTime", "CurrentMaxTime", "CurrentMinTime", "CurrentAverageTime", "CurrentNumberInTimeRange",
        "CurrentNumberInTimeRangePercentage", "CurrentContinuousTime", "AverageOfCurrentNumber",
        "ElapsedTimePercentage", "TotalNumberPerSecond",
    }
)
#: Categories that also move with the clock for status subjects (the ongoing status time counts).
STATUS_CLOCK_CATEGORIES = frozenset({"TotalTime", "RelativeTimePercentage", "AverageNumberPerRelativeHour"})


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


def _s(ms: float) -> float:
    return ms / 1000


def interval_view(acc: dict[str, Any], stat: Statistic, now: int) -> dict[str, Any]:
    """The interval's sums at ``now``: counts, times (ms), extremes, area, start/end, elapsed."""
    prof, w = stat.profile, acc["w"]
    view: dict[str, Any] = {
        "nM": 0, "nR": 0, "aM": 0, "aR": 0, "tM": 0, "tR": 0, "mx": None, "mn": None, "rn": 0, "rt": 0,
        "cx": None, "cn": None, "ar": 0, "start": None, "end": None, "at": now,
    }
    if prof.kind == "Sliding":
        start = profiles.window_start(prof, now)
        buckets = [b for b in w["bs"].values() if b["s"] >= start]
        view["start"] = start
    elif prof.kind == "SinceLogin" and w["b"] is None:
        return _with_elapsed(view)
    else:
        buckets = [w["b"]]
        view["start"] = w["b"]["s"]
        if prof.kind == "SinceLogin" and w["lo"] is not None:
            view["end"] = w["lo"]
            view["at"] = min(now, w["lo"])
    for b in buckets:
        for k in ("nM", "nR", "aM", "aR", "tM", "tR", "rn", "rt", "ar"):
            view[k] += b[k]
        for k, pick in (("mx", max), ("mn", min), ("cx", max), ("cn", min)):
            if b[k] is not None:
                view[k] = b[k] if view[k] is None else pick(view[k], b[k])
    at, n = view["at"], acc["n"]
    live = prof.kind != "SinceLogin" or not w["closed"]
    if live:
        view["ar"] += n * max(0, at - max(acc["tl"], view["start"]))
        view["cx"] = n if view["cx"] is None else max(view["cx"], n)
        view["cn"] = n if view["cn"] is None else min(view["cn"], n)
    if prof.kind == "Selection":
        _selection(view, w)
    elif stat.stat_type.subject in STATUS_SUBJECTS:
        # Status time is split over intervals: the ongoing status's time so far counts too.
        for start, _name, in_m, in_r in acc["open"].values():
            part = max(0, at - max(start, view["start"]))
            view["tM"] += part if in_m else 0
            view["tR"] += part if in_r else 0
    return _with_elapsed(view)


def _selection(view: dict[str, Any], w: dict[str, Any]) -> None:
    """Selection N: completion sums come from the last N completions, not from a time window."""
    for side, rows in (("M", w["sM"]), ("R", w["sR"])):
        view["n" + side] = len(rows)
        view["a" + side] = view["t" + side] = sum(r[1] for r in rows)
    durations = [r[1] for r in w["sM"]]
    view["mx"] = max(durations) if durations else None
    view["mn"] = min(durations) if durations else None
    view["rn"] = sum(1 for r in w["sM"] if r[3])
    view["rt"] = sum(r[1] for r in w["sM"] if r[3])


def _with_elapsed(view: dict[str, Any]) -> dict[str, Any]:
    view["elapsed"] = 0 if view["start"] is None else max(0, view["at"] - view["start"])
    return view


def current_ages(acc: dict[str, Any], now: int, side: int = 2) -> list[int]:
    """Elapsed ms of the ongoing instances matching M (``side=2``) or R (``side=3``)."""
    return [max(0, now - inst[0]) for inst in acc["open"].values() if inst[side]]


def evaluate(acc: dict[str, Any], stat: Statistic, now: int) -> float:
    """The category's value (seconds, count or percent) at ``now``."""
    category = stat.stat_type.category
    if category.startswith("Current"):
        return _current(acc, stat, category, now)
    v = interval_view(acc, stat, now)
    total_m, total_r = _s(v["tM"]), _s(v["tR"])
    in_range = {
        "TotalNumberInTimeRange": float(v["rn"]),
        "TotalTimeInTimeRange": _s(v["rt"]),
        "TotalNumberInTimeRangePercentage": 100 * _div(v["rn"], v["nR"]),
    }
    if category in in_range:
        return in_range[category]
    values: dict[str, float] = {
        "TotalNumber": float(v["nM"]),
        "TotalTime": total_m,
        "TotalAdjustedNumber": float(v["nM"]),
        "TotalAdjustedTime": _s(v["aM"]),
        "AverageTime": _div(_s(v["aM"]), v["nM"]),
        "MaxTime": _s(v["mx"] or 0),
        "MinTime": _s(v["mn"] or 0),
        "MaxNumber": float(v["cx"] or 0),
        "MinNumber": float(v["cn"] or 0),
        "AverageOfCurrentNumber": _div(v["ar"], v["elapsed"]),
        "AverageNumberPerRelativeHour": _div(v["nM"] * 3600, total_r),
        "ElapsedTimePercentage": 100 * _div(v["tM"], v["elapsed"]),
        "RelativeNumberPercentage": 100 * _div(v["nM"], v["nR"]),
        "RelativeTimePercentage": 100 * _div(v["tM"], v["tR"]),
        "TotalNumberPerSecond": _div(v["nM"], _s(v["elapsed"])),
    }
    if category not in values:
        raise ValueError(f"statistic {stat.name!r}: unknown category {category!r}")
    return values[category]


def _current(acc: dict[str, Any], stat: Statistic, category: str, now: int) -> float:
    ages = current_ages(acc, now)
    number = len(ages)
    rel_number = len(current_ages(acc, now, side=3))
    rng = stat.time_range
    in_range = sum(1 for a in ages if rng is None or rng.contains(a / 1000))
    if category == "CurrentNumber":
        return float(number)
    if category == "CurrentTime":
        return sum(ages) / 1000
    if category == "CurrentMaxTime":
        return max(ages, default=0) / 1000
    if category == "CurrentMinTime":
        return min(ages, default=0) / 1000
    if category == "CurrentAverageTime":
        return _div(sum(ages) / 1000, number)
    if category == "CurrentRelativeNumberPercentage":
        return 100 * _div(number, rel_number)
    if category == "CurrentNumberInTimeRange":
        return float(in_range)
    if category == "CurrentNumberInTimeRangePercentage":
        return 100 * _div(in_range, rel_number)
    if category == "CurrentContinuousTime":
        return 0.0 if acc["cs"] is None else max(0, now - acc["cs"]) / 1000
    raise ValueError(f"statistic {stat.name!r}: unknown category {category!r}")


def current_state(acc: dict[str, Any], stat: Statistic, object_type: str, object_id: str) -> dict | None:
    """CurrentState(-Reasons) of an Agent or Place; None for other objects (no single status)."""
    if object_type not in OWN_OBJECT_TYPES:
        return None
    entry = acc["mem"].get(f"{object_type}:{object_id}")
    if entry is None:
        since = acc["seen"]
        return {"Status": "LoggedOut", "Media": {}, "DoNotDisturb": False, "Reason": None, "Since": since}
    with_reasons = stat.stat_type.category == "CurrentStateReasons"
    return {
        "Status": entry["s"],
        "Media": dict(entry["md"]),
        "DoNotDisturb": bool(entry["dnd"]),
        "Reason": (dict(entry["r"]) if entry["r"] else None) if with_reasons else None,
        "Since": entry["since"],
    }


def interval_bounds(acc: dict[str, Any], stat: Statistic, now: int) -> tuple[int | None, int | None]:
    """(IntervalStart, IntervalEnd) reported with a value at ``now``."""
    if stat.profile.kind == "Sliding":
        return profiles.window_start(stat.profile, now), None
    w = acc["w"]
    if w.get("b") is None:
        return None, None
    end = w["lo"] if stat.profile.kind == "SinceLogin" else None
    return w["b"]["s"], end
