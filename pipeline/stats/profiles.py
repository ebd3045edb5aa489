"""Time-profile arithmetic (statistics.md "Time profiles"): Growing reset instants and Sliding buckets.

Everything here is pure time math on epoch milliseconds; the accumulators (``pipeline.stats.
accumulator``) keep the per-object state. Growing resets are local wall times in an IANA zone, so
they are computed per local date with :mod:`zoneinfo`:

- a reset wall time that does not exist that day (spring-forward gap) resets at the first instant
  after it, i.e. at the transition itself (02:30 in Berlin on 2026-03-29 → 03:00 CEST);
- a wall time that occurs twice (fall-back) resets at its first occurrence only.

Sliding ``L,S`` keeps epoch-aligned ``S``-second buckets; the window at clock ``t`` is
``[floor(t/S)·S + S − L, t]``, i.e. the ``ceil(L/S)`` most recent buckets, the current partial one
included (``L`` is rounded up to a whole number of steps).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pipeline.stats.model import TimeProfile

DAY_MS = 86_400_000


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_naive(epoch_s: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz).replace(tzinfo=None)


def _instant_of_wall_time(wall: datetime, tz: ZoneInfo) -> int:
    """Epoch ms of a local wall time: first occurrence if repeated, the transition if skipped."""
    first = int(wall.replace(tzinfo=tz, fold=0).timestamp())
    if _local_naive(first, tz) == wall:
        other = int(wall.replace(tzinfo=tz, fold=1).timestamp())
        if _local_naive(other, tz) == wall:
            first = min(first, other)  # a repeated wall time: the earlier occurrence
        return first * 1000
    # A skipped wall time: both folds land around the gap; the local clock is monotone over it,
    # so the transition is the smallest instant whose local time is at or after ``wall``.
    lo, hi = sorted((first, int(wall.replace(tzinfo=tz, fold=1).timestamp())))
    while _local_naive(lo, tz) >= wall:  # defensive: widen until lo is before the wall time
        lo -= 3600
    while _local_naive(hi, tz) < wall:
        hi += 3600
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _local_naive(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return hi * 1000


@lru_cache(maxsize=4096)
def _resets_of_day(day: date, minutes: tuple[int, ...], zone: str) -> tuple[int, ...]:
    tz = _zone(zone)
    base = datetime(day.year, day.month, day.day)
    return tuple(sorted({_instant_of_wall_time(base + timedelta(minutes=m), tz) for m in minutes}))


def _reset_minutes(profile: TimeProfile) -> tuple[int, ...]:
    # A Growing profile without reset times behaves as the built-in default: daily at midnight.
    return tuple(profile.reset_minutes) or (0,)


def _candidates(profile: TimeProfile, t_ms: int, days_before: int, days_after: int) -> list[int]:
    tz = _zone(profile.timezone)
    local_day = datetime.fromtimestamp(t_ms / 1000, tz).date()
    out: list[int] = []
    for k in range(-days_before, days_after + 1):
        out.extend(_resets_of_day(local_day + timedelta(days=k), _reset_minutes(profile), profile.timezone))
    return sorted(set(out))


def last_reset(profile: TimeProfile, t_ms: int) -> int:
    """The latest reset instant at or before ``t_ms`` (the start of the interval containing it)."""
    for days in (2, 8):
        earlier = [r for r in _candidates(profile, t_ms, days, 1) if r <= t_ms]
        if earlier:
            return earlier[-1]
    raise ValueError(f"time profile {profile.name!r} has no reset before {t_ms}")


def next_reset(profile: TimeProfile, t_ms: int) -> int:
    """The earliest reset instant strictly after ``t_ms`` (intervals are ``[reset, next reset)``)."""
    for days in (2, 8):
        later = [r for r in _candidates(profile, t_ms, 1, days) if r > t_ms]
        if later:
            return later[0]
    raise ValueError(f"time profile {profile.name!r} has no reset after {t_ms}")


# ------------------------------------------------------------------------------------------ Sliding


def step_ms(profile: TimeProfile) -> int:
    return max(1, int(profile.step_s)) * 1000


def bucket_count(profile: TimeProfile) -> int:
    """Buckets in the window: ``ceil(L/S)``, at least one."""
    s = step_ms(profile)
    return max(1, -(-int(profile.length_s) * 1000 // s))


def bucket_of(profile: TimeProfile, t_ms: int) -> int:
    """Start of the epoch-aligned bucket containing ``t_ms``."""
    s = step_ms(profile)
    return (t_ms // s) * s


def window_start(profile: TimeProfile, t_ms: int) -> int:
    """``floor(t/S)·S + S − L`` with ``L`` a whole number of steps: start of the oldest bucket kept."""
    return bucket_of(profile, t_ms) - (bucket_count(profile) - 1) * step_ms(profile)


def next_step(profile: TimeProfile, t_ms: int) -> int:
    """The next bucket boundary strictly after ``t_ms`` (when the window moves)."""
    return bucket_of(profile, t_ms) + step_ms(profile)
