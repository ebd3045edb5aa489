"""State of one statistic for one object, as plain JSON-serialisable data, and the ways it changes.

One accumulator per (statistic, object), stored under ``Statistic/ObjectType/TenantID/ObjectID`` so
a key-value table (Faust/RocksDB) can hold each one under its own key. Its fields:

``seen``        first time an action touched the object (ms)
``open``        ongoing instances matching M or R: ``key → [start, name, inM, inR]``; for DNAction the
                key is ``member|Action|InteractionID|MediaTypeID``, for status subjects
                ``member|status`` (a member is the origin object, ``Agent:a1``)
``n``, ``tl``   CurrentNumber(M) and the time up to which the timeline (area, min/max) is accrued
``cs/cl/cp``    continuity: since when CurrentNumber(M) > 0, when it last dropped to 0 and the
                since it had (an End and a Start at the same instant do not interrupt)
``w``           the time-profile window (buckets; see below)
``mem``         status subjects: per member ``{s, r, u, t, since, md, dnd, p}`` (status, reason,
                user data, start of the current status instance, since when the status name holds,
                per-media statuses, DND, and the previous ``[status, since, ended at]``)
``ns``          notification state (owned by ``pipeline.stats.notification``)
``late``        contributions dropped because their interval was already closed

A bucket (``new_bucket``) sums completions in one interval: counts ``nM/nR``, adjusted time
``aM/aR`` and split time ``tM/tR`` (ms), longest/shortest duration ``mx/mn``, in-time-range count
and time ``rn/rt``, the extremes of CurrentNumber(M) ``cx/cn`` and its time integral ``ar`` (ms).

Windows by profile kind: Growing ``{"b": bucket}``; Sliding ``{"bs": {start: bucket}}``;
Selection ``{"b": timeline bucket since first seen, "sM": [[end, dur, start, inRange]], "sR": […]}``;
SinceLogin ``{"b": session bucket or None, "li": login, "lo": logout or None, "closed": bool}``.
"""

from __future__ import annotations

from typing import Any

from pipeline.stats import profiles
from pipeline.stats.filters import attributes, evaluate
from pipeline.stats.model import Statistic

STATUS_SUBJECTS = frozenset({"DNStatus", "AgentStatus", "PlaceStatus"})
STATE_CATEGORIES = frozenset({"CurrentState", "CurrentStateReasons"})
OWN_OBJECT_TYPES = frozenset({"Agent", "Place"})


def uses_status(stat: Statistic) -> bool:
    """Whether the accumulator is fed by status changes instead of raw actions."""
    return stat.stat_type.subject in STATUS_SUBJECTS or stat.stat_type.category in STATE_CATEGORIES


def new_bucket(start: int, n: int | None) -> dict[str, Any]:
    return {
        "s": start, "nM": 0, "nR": 0, "aM": 0, "aR": 0, "tM": 0, "tR": 0, "mx": None, "mn": None,
        "rn": 0, "rt": 0, "cx": n, "cn": n, "ar": 0,
    }


def new_accumulator(stat: Statistic, object_type: str, seen: int, clock: int) -> dict[str, Any]:
    """A fresh accumulator; a Growing one starts in the interval containing the clock."""
    prof = stat.profile
    if prof.kind == "Growing":
        window: dict[str, Any] = {"b": new_bucket(profiles.last_reset(prof, clock), 0)}
    elif prof.kind == "Sliding":
        window = {"bs": {}}
    elif prof.kind == "Selection":
        window = {"b": new_bucket(seen, 0), "sM": [], "sR": []}
    elif object_type in OWN_OBJECT_TYPES:  # SinceLogin on an agent or place: wait for the login
        window = {"b": None, "li": None, "lo": None, "closed": False}
    else:  # SinceLogin on other objects: since first seen, never reset
        window = {"b": new_bucket(seen, 0), "li": seen, "lo": None, "closed": False}
    return {
        "seen": seen, "open": {}, "n": 0, "tl": seen, "cs": None, "cl": None, "cp": None,
        "w": window, "mem": {}, "ns": {}, "late": 0,
    }


# ------------------------------------------------------------------------------------------ buckets


def _sliding_bucket(acc: dict[str, Any], stat: Statistic, start: int, seed: int | None) -> dict[str, Any]:
    buckets = acc["w"]["bs"]
    bucket = buckets.get(str(start))
    if bucket is None:
        bucket = buckets[str(start)] = new_bucket(start, seed)
    return bucket


def prune(acc: dict[str, Any], stat: Statistic, now: int) -> int:
    """Sliding: drop buckets that left the window (keeps the state at ``ceil(L/S)`` buckets).

    Returns how many were dropped (a value that moves only with its window changed only then).
    """
    if stat.profile.kind != "Sliding":
        return 0
    oldest = profiles.window_start(stat.profile, now)
    buckets = acc["w"]["bs"]
    gone = [k for k, b in buckets.items() if b["s"] < oldest]
    for key in gone:
        del buckets[key]
    return len(gone)


def bucket_for(acc: dict[str, Any], stat: Statistic, t: int, now: int) -> dict[str, Any] | None:
    """The bucket a contribution at ``t`` goes to, or None when its interval is closed (late)."""
    prof, w = stat.profile, acc["w"]
    if prof.kind == "Sliding":
        start = profiles.bucket_of(prof, t)
        if start < profiles.window_start(prof, max(now, t)):
            return None
        return _sliding_bucket(acc, stat, start, None)
    bucket = w["b"]
    if bucket is None or t < bucket["s"]:
        return None
    if prof.kind == "SinceLogin" and (w["closed"] or (w["lo"] is not None and t > w["lo"])):
        return None
    return bucket


def session_open(acc: dict[str, Any], stat: Statistic) -> bool:
    w = acc["w"]
    return stat.profile.kind != "SinceLogin" or (w["b"] is not None and not w["closed"])


# ----------------------------------------------------------------------------------------- timeline


def accrue(acc: dict[str, Any], stat: Statistic, to_t: int, now: int) -> None:
    """Integrate CurrentNumber(M) over ``[tl, to_t]`` into the buckets (area, gap-bucket extremes)."""
    tl, n, prof = acc["tl"], acc["n"], stat.profile
    if to_t <= tl:
        return
    acc["tl"] = to_t
    if prof.kind == "Sliding":
        cur = max(tl, profiles.window_start(prof, to_t))
        while cur < to_t:
            start = profiles.bucket_of(prof, cur)
            end = min(start + profiles.step_ms(prof), to_t)
            bucket = _sliding_bucket(acc, stat, start, n)
            _widen(bucket, n)
            bucket["ar"] += n * (end - cur)
            cur = end
        prune(acc, stat, max(now, to_t))
        return
    bucket, w = acc["w"]["b"], acc["w"]
    if bucket is None or (prof.kind == "SinceLogin" and w["closed"]):
        return
    end = to_t if prof.kind != "SinceLogin" or w["lo"] is None else min(to_t, w["lo"])
    begin = max(tl, bucket["s"])
    if end > begin:
        bucket["ar"] += n * (end - begin)


def _widen(bucket: dict[str, Any], n: int) -> None:
    bucket["cx"] = n if bucket["cx"] is None else max(bucket["cx"], n)
    bucket["cn"] = n if bucket["cn"] is None else min(bucket["cn"], n)


def change_count(acc: dict[str, Any], stat: Statistic, t: int, delta: int, now: int) -> None:
    """CurrentNumber(M) changes by ``delta`` at ``t`` (applied at the accrued time if ``t`` is late)."""
    at = max(t, acc["tl"])
    accrue(acc, stat, at, now)
    before = acc["n"]
    acc["n"] = after = before + delta
    bucket = bucket_for(acc, stat, at, now)
    if bucket is not None:
        _widen(bucket, before)
        _widen(bucket, after)
    if before <= 0 < after:
        acc["cs"] = acc["cp"] if acc["cl"] == at and acc["cp"] is not None else at
        acc["cl"] = acc["cp"] = None
    elif after <= 0 < before:
        acc["cl"], acc["cp"], acc["cs"] = at, acc["cs"], None


# -------------------------------------------------------------------------------------- completions


def complete(
    acc: dict[str, Any], stat: Statistic, end: int, dur: int, start: int, in_m: bool, in_r: bool, now: int
) -> None:
    """A completed matching action (durable End, momentary, retrospective) of duration ``dur`` ms."""
    if not (in_m or in_r):
        return
    dur = max(0, int(dur))
    in_range = stat.time_range is None or stat.time_range.contains(dur / 1000)
    prof = stat.profile
    if prof.kind == "Selection":
        keep = max(1, int(prof.count))
        if in_m:
            acc["w"]["sM"] = (acc["w"]["sM"] + [[end, dur, start, in_range]])[-keep:]
        if in_r:
            acc["w"]["sR"] = (acc["w"]["sR"] + [[end, dur, start, in_range]])[-keep:]
        return
    bucket = bucket_for(acc, stat, end, now)
    if bucket is None:
        acc["late"] += 1
        return
    for flag, side in ((in_m, "M"), (in_r, "R")):
        if flag:
            bucket["n" + side] += 1
            bucket["a" + side] += dur
    if in_m:
        bucket["mx"] = dur if bucket["mx"] is None else max(bucket["mx"], dur)
        bucket["mn"] = dur if bucket["mn"] is None else min(bucket["mn"], dur)
        if in_range:
            bucket["rn"] += 1
            bucket["rt"] += dur
    _split(acc, stat, bucket, start, end, in_m, in_r, now)


def _split(
    acc: dict[str, Any], stat: Statistic, bucket: dict[str, Any], start: int, end: int,
    in_m: bool, in_r: bool, now: int,
) -> None:
    """TotalTime: only the part of [start, end] inside the interval (Sliding: per bucket)."""
    prof = stat.profile
    parts: list[tuple[dict[str, Any], int]] = []
    if prof.kind == "Sliding":
        step = profiles.step_ms(prof)
        first = max(profiles.bucket_of(prof, start), profiles.window_start(prof, max(now, end)))
        b = first
        while b <= bucket["s"]:
            overlap = min(end, b + step) - max(start, b)
            if overlap > 0:
                parts.append((_sliding_bucket(acc, stat, b, None), overlap))
            b += step
    else:
        parts.append((bucket, max(0, end - max(start, bucket["s"]))))
    for target, ms in parts:
        if in_m:
            target["tM"] += ms
        if in_r:
            target["tR"] += ms


# ------------------------------------------------------------------------------------------ actions


def _media_ok(stat: Statistic, action: dict[str, Any]) -> bool:
    media = stat.stat_type.media_types
    m = action.get("MediaTypeID")
    return media is None or m is None or m in media


def _flags(stat: Statistic, name: str, attrs_source: dict[str, Any]) -> tuple[bool, bool]:
    in_m = stat.stat_type.main_mask.matches(name)
    in_r = stat.stat_type.rel_mask.matches(name)
    if (in_m or in_r) and stat.filter is not None:
        attrs = attributes(attrs_source.get("UserData"), attrs_source.get("Reason"))
        if not evaluate(stat.filter.expr, attrs):
            return False, False
    return in_m, in_r


def apply_action(acc: dict[str, Any], stat: Statistic, action: dict[str, Any], member: str, now: int) -> bool:
    """DNAction subject: one action instance; returns whether the accumulator changed."""
    if not _media_ok(stat, action):
        return False
    name, kind, t = action["Action"], action.get("Kind"), int(action["EventTime"])
    in_m, in_r = _flags(stat, name, action)
    if kind == "Durable":
        key = f"{member}|{name}|{action.get('InteractionID') or ''}|{action.get('MediaTypeID') or ''}"
        if action.get("Phase") == "Start":
            if key in acc["open"] or not (in_m or in_r):
                return False
            acc["open"][key] = [t, name, in_m, in_r]
            if in_m:
                change_count(acc, stat, t, +1, now)
            return True
        inst = acc["open"].pop(key, None)
        if inst is not None and inst[2]:
            change_count(acc, stat, t, -1, now)
        start, dur = _start_and_duration(action, t, inst[0] if inst else None)
        complete(acc, stat, t, dur, start, in_m, in_r, now)
        return inst is not None or in_m or in_r
    if not (in_m or in_r):
        return False
    if kind == "Retrospective":
        start, dur = _start_and_duration(action, t, None)
    else:
        start, dur = t, 0
    complete(acc, stat, t, dur, start, in_m, in_r, now)
    return True


def _start_and_duration(action: dict[str, Any], t: int, open_start: int | None) -> tuple[int, int]:
    dur = action.get("DurationMs")
    start = action.get("StartTime")
    if dur is None:
        base = start if start is not None else open_start if open_start is not None else t
        dur = t - int(base)
    if start is None:
        start = t - int(dur)
    return int(start), int(dur)


# ------------------------------------------------------------------------------------------ status


def apply_status(
    acc: dict[str, Any], stat: Statistic, member: str, view: dict[str, Any], t: int, now: int
) -> bool:
    """Status subjects: the member's status is now ``view`` (``status.status_view``) at ``t``.

    A change of status or reason ends the member's status instance (a completion, unless it lasted
    0 ms) and starts a new one; the status name's ``since`` survives a reason-only change.
    """
    entry = acc["mem"].get(member)
    status, reason, user = view["Status"], view["Reason"], view["UserData"]
    if entry is not None and entry["s"] == status and entry["r"] == reason:
        changed = entry["md"] != view["Media"] or entry["dnd"] != view["DoNotDisturb"]
        entry["md"], entry["dnd"] = view["Media"], view["DoNotDisturb"]
        return changed
    since, previous = t, None
    if entry is not None:
        _end_status(acc, stat, member, entry, t, now)
        previous = [entry["s"], entry["since"], t]
        if entry["s"] == status:
            since = entry["since"]
        elif entry.get("p") and entry["p"][0] == status and entry["p"][2] == entry["t"] == t:
            # back to the status left at this same instant: the 0 ms status in between is no break
            since, previous = entry["p"][1], entry["p"]
    acc["mem"][member] = {
        "s": status, "r": reason, "u": user, "t": t, "since": since,
        "md": view["Media"], "dnd": view["DoNotDisturb"], "p": previous,
    }
    in_m, in_r = _flags(stat, status, {"UserData": user, "Reason": reason})
    if in_m or in_r:
        acc["open"][f"{member}|status"] = [t, status, in_m, in_r]
        if in_m:
            change_count(acc, stat, t, +1, now)
    return True


def _end_status(
    acc: dict[str, Any], stat: Statistic, member: str, entry: dict[str, Any], t: int, now: int
) -> None:
    inst = acc["open"].pop(f"{member}|status", None)
    if inst is None:
        return
    if inst[2]:
        change_count(acc, stat, t, -1, now)
    if t > inst[0]:
        complete(acc, stat, t, t - inst[0], inst[0], inst[2], inst[3], now)


def remove_member(acc: dict[str, Any], stat: Statistic, member: str, t: int, now: int) -> bool:
    """A member left the group at ``t``: its ongoing instances complete there, for this group."""
    changed = False
    entry = acc["mem"].pop(member, None)
    if entry is not None:
        _end_status(acc, stat, member, entry, t, now)
        changed = True
    for key in sorted(k for k in acc["open"] if k.startswith(member + "|")):
        inst = acc["open"].pop(key)
        if inst[2]:
            change_count(acc, stat, t, -1, now)
        complete(acc, stat, t, max(0, t - inst[0]), inst[0], inst[2], inst[3], now)
        changed = True
    return changed


# --------------------------------------------------------------------------------------- SinceLogin


def login(acc: dict[str, Any], stat: Statistic, t: int, now: int) -> None:
    """SinceLogin: a new session starts at ``t`` (the caller closed the previous one)."""
    accrue(acc, stat, t, now)
    acc["w"].update({"b": new_bucket(t, acc["n"]), "li": t, "lo": None, "closed": False})
    acc["tl"] = max(acc["tl"], t)


def logout(acc: dict[str, Any], t: int) -> None:
    """SinceLogin: the session ends at ``t``; it stays open to actions at ``t`` until closed."""
    if acc["w"]["b"] is not None and not acc["w"]["closed"]:
        acc["w"]["lo"] = t


def pending_logout(acc: dict[str, Any], stat: Statistic) -> int | None:
    w = acc["w"]
    if stat.profile.kind != "SinceLogin" or w.get("b") is None or w["closed"]:
        return None
    return w["lo"]


def close_session(acc: dict[str, Any], stat: Statistic, now: int) -> None:
    accrue(acc, stat, acc["w"]["lo"], now)
    acc["w"]["closed"] = True


# ------------------------------------------------------------------------------------------ Growing


def reset(acc: dict[str, Any], stat: Statistic, at: int, now: int) -> None:
    """Growing: close the interval at ``at`` and start the next one at zero."""
    accrue(acc, stat, at, now)
    acc["w"]["b"] = new_bucket(at, acc["n"])
