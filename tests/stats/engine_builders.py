"""Builders for the statistics-engine tests: configurations and action records by hand.

Times are written as seconds after ``T0`` (2026-03-02 09:00:00 UTC) so expected values can be
computed by eye.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.records.catalog import ACTION_KINDS
from pipeline.records.times import parse_time
from pipeline.stats.config import Config
from pipeline.stats.engine import StatEngine
from pipeline.stats.model import (
    Filter,
    Groups,
    Mask,
    Notification,
    Statistic,
    StatType,
    TimeProfile,
    TimeRange,
)

T0 = parse_time("2026-03-02T09:00:00Z")


def at(seconds: float) -> int:
    """Epoch ms of ``T0 + seconds``."""
    return T0 + int(round(seconds * 1000))


def mask(names: Iterable[str] = ()) -> Mask:
    names = list(names)
    return Mask(
        include_all="*" in names,
        include=frozenset(n for n in names if n != "*" and not n.startswith("~")),
        exclude=frozenset(n[1:] for n in names if n.startswith("~")),
    )


def growing(minutes: Iterable[int] = (0,), tz: str = "UTC", name: str = "Default") -> TimeProfile:
    return TimeProfile(name=name, kind="Growing", reset_minutes=tuple(minutes), timezone=tz)


def sliding(length_s: int, step_s: int, name: str = "Sliding") -> TimeProfile:
    return TimeProfile(name=name, kind="Sliding", length_s=length_s, step_s=step_s)


def selection(count: int, name: str = "Selection") -> TimeProfile:
    return TimeProfile(name=name, kind="Selection", count=count)


def since_login(name: str = "Session") -> TimeProfile:
    return TimeProfile(name=name, kind="SinceLogin")


def stat(
    category: str,
    main: Iterable[str] = ("*",),
    rel: Iterable[str] = (),
    *,
    name: str | None = None,
    subject: str = "DNAction",
    objects: Iterable[str] = ("Agent",),
    profile: TimeProfile | None = None,
    media: Iterable[str] | None = None,
    filter_expr: tuple | None = None,
    time_range: tuple[float, float] | None = None,
    notification: Notification | None = None,
) -> Statistic:
    stat_type = StatType(
        name=name or category,
        objects=tuple(objects),
        category=category,
        subject=subject,
        main_mask=mask(main),
        rel_mask=mask(rel),
        media_types=frozenset(media) if media is not None else None,
    )
    return Statistic(
        name=name or category,
        stat_type=stat_type,
        profile=profile or growing(),
        filter=Filter("F", "", filter_expr) if filter_expr is not None else None,
        time_range=TimeRange("R", *time_range) if time_range is not None else None,
        notification=notification or Notification(),
    )


def config(*stats: Statistic, agents: dict[str, list[str]] | None = None,
           places: dict[str, list[str]] | None = None) -> Config:
    groups = Groups(
        agents={g: frozenset(m) for g, m in (agents or {}).items()},
        places={g: frozenset(m) for g, m in (places or {}).items()},
    )
    return Config(statistics=tuple(stats), groups=groups)


def act(
    action: str,
    t: float,
    phase: str | None = None,
    *,
    obj: tuple[str, str] = ("Agent", "a1"),
    tenant: str = "t1",
    media: str | None = "email",
    iid: str | None = None,
    dur: float | None = None,
    reason: dict | None = None,
    user_data: dict | None = None,
) -> dict[str, Any]:
    """One action record at ``T0 + t`` seconds; ``dur`` (seconds) for durable End / retrospective."""
    kind = ACTION_KINDS[action]
    record: dict[str, Any] = {
        "ActionID": f"{action}-{phase}-{obj[1]}-{iid}-{t}",
        "Action": action,
        "Kind": kind,
        "Phase": phase if kind == "Durable" else None,
        "ObjectType": obj[0],
        "ObjectID": obj[1],
        "TenantID": tenant,
        "EventTime": at(t),
        "StartTime": None,
        "DurationMs": None,
        "InteractionID": iid,
        "MediaTypeID": media,
        "Reason": reason,
        "UserData": user_data,
    }
    if dur is not None:
        record["DurationMs"] = int(round(dur * 1000))
        record["StartTime"] = at(t - dur)
    return record


def durable(action: str, start: float, end: float | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Start (and End, if ``end`` is given) of one durable action instance."""
    out = [act(action, start, "Start", **kw)]
    if end is not None:
        out.append(act(action, end, "End", dur=end - start, **kw))
    return out


def feed(engine: StatEngine, actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply actions in EventTime order (stable), the clock following the event time."""
    out: list[dict[str, Any]] = []
    for action in sorted(actions, key=lambda a: a["EventTime"]):
        out += engine.on_action(action, action["EventTime"])
    return out


def final_value(engine: StatEngine, until: float, statistic: str, obj: tuple[str, str] = ("Agent", "a1"),
                tenant: str = "t1") -> Any:
    """The Final record's Value (or State) for one statistic and object at ``T0 + until``."""
    for rec in engine.finals(at(until)):
        if (rec["Reason"] == "Final" and rec["Statistic"] == statistic
                and (rec["ObjectType"], rec["ObjectID"], rec["TenantID"]) == (obj[0], obj[1], tenant)):
            return rec["State"] if rec["Value"] is None else rec["Value"]
    raise AssertionError(f"no Final for {statistic} {obj}")


def run(stats: Iterable[Statistic], actions: Iterable[dict[str, Any]], until: float,
        statistic: str | None = None, obj: tuple[str, str] = ("Agent", "a1"), **groups: Any) -> Any:
    """Feed actions to a fresh engine and return one Final value."""
    stats = list(stats)
    engine = StatEngine(config(*stats, **groups))
    feed(engine, actions)
    return final_value(engine, until, statistic or stats[0].name, obj)
