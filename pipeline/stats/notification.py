"""When a statistic sends a record (statistics.md "Notification") and what the record holds.

Modes: ``Changes`` (a record when the value moved by at least the insensitivity since the last one
sent; the first value always; values that move with the clock alone are looked at on epoch-aligned
10 s boundaries, so they are re-sent at most every 10 s, and Sliding values also at each step),
``Time`` (a record at each epoch-aligned multiple of the frequency the clock crosses — one per
crossing, however many multiples were skipped), ``Reset`` (only closed Growing values), ``None``.

A check or a timer is evaluated **at its instant** on the grid (the last one the clock crossed), not
at the clock that crossed it: the clock moves with every object's actions, and a value evaluated at
"whatever action came next" would make one object's records depend on the others' — and so on how
the actions are split over partitions. Evaluated at the grid instant, a statistic's records depend
only on its own object's actions and the time grid (``docs/partitioning.md``).
Every Growing statistic except mode None sends its closed value at each reset (Reason ``Reset``).

The accumulator's ``sent`` / ``sent_value`` / ``sent_state`` hold the last value / state sent.
"""

from __future__ import annotations

from typing import Any

from pipeline.records.catalog import CATEGORIES
from pipeline.stats import profiles
from pipeline.stats.accumulator import Accumulator, kept_value
from pipeline.stats.categories import moves_only_with_window, moves_with_clock
from pipeline.stats.model import Statistic

#: Clock-moved values are re-sent at most this often [ours].
RESEND_MS = 10_000


def record(
    stat: Statistic, object_type: str, tenant: str, object_id: str, value: float | None,
    state: dict | None, interval: tuple[int | None, int | None], emitted_at: int, reason: str,
) -> dict[str, Any]:
    """A StatValue record (schemas/StatValue.avsc); ``State`` stays a dict here."""
    return {
        "Statistic": stat.name,
        "StatType": stat.stat_type.name,
        "Category": stat.stat_type.category,
        "ObjectType": object_type,
        "ObjectID": object_id,
        "TenantID": tenant,
        "TimeProfile": stat.profile.name,
        "IntervalStart": interval[0],
        "IntervalEnd": interval[1],
        "Value": value,
        "State": state,
        "Unit": CATEGORIES.get(stat.stat_type.category, "count"),
        "EmittedAt": emitted_at,
        "Reason": reason,
    }


def changed_enough(stat: Statistic, acc: Accumulator, value: float | None, state: dict | None) -> bool:
    """Changes mode: first value always; then a move of at least the insensitivity (any state change)."""
    if not acc.sent:
        return True
    if state is not None or acc.sent_state is not None:
        return state != acc.sent_state
    last = acc.sent_value
    if value is None or last is None:
        return value != last
    return value != last and abs(value - last) >= stat.notification.insensitivity


def remember(acc: Accumulator, value: float | None, state: dict | None) -> None:
    acc.sent, acc.sent_value, acc.sent_state = True, kept_value(value), state


def sends_resets(stat: Statistic) -> bool:
    return stat.notification.mode != "None" and stat.profile.kind in ("Growing", "SinceLogin")


def next_tick(stat: Statistic, now: int) -> int | None:
    """Time mode: the next epoch-aligned multiple of the frequency after ``now``."""
    if stat.notification.mode != "Time":
        return None
    freq = max(1, int(stat.notification.frequency_s)) * 1000
    return (now // freq + 1) * freq


def last_tick(stat: Statistic, now: int) -> int:
    """Time mode: the last epoch-aligned multiple of the frequency at or before ``now``."""
    freq = max(1, int(stat.notification.frequency_s)) * 1000
    return (now // freq) * freq


def last_check(stat: Statistic, due: int, now: int) -> int:
    """Changes mode: the last check instant at or before ``now``, given the first one not yet done
    (``due`` ≤ ``now``). Check instants lie on a fixed epoch-aligned grid, at most one step or
    :data:`RESEND_MS` apart, so this is a jump and at most a few steps, however long the gap."""
    span = profiles.step_ms(stat.profile) if moves_only_with_window(stat) else RESEND_MS
    at = due
    if now - at > span:
        at = max(at, next_check(stat, now - span - 1))
    while True:
        following = next_check(stat, at)
        if following is None or following > now:
            return at
        at = following


def next_check(stat: Statistic, now: int) -> int | None:
    """Changes mode: when clock-moved values are looked at next (10 s boundaries, Sliding steps)."""
    if stat.notification.mode != "Changes" or not moves_with_clock(stat):
        return None
    if moves_only_with_window(stat):
        return profiles.next_step(stat.profile, now)  # buckets leave the window only at steps
    due = (now // RESEND_MS + 1) * RESEND_MS
    if stat.profile.kind == "Sliding":
        due = min(due, profiles.next_step(stat.profile, now))
    return due
