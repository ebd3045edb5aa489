"""``advance`` over a long gap: the interval that had data closes once, then the current one starts.

Records after a jump are O(objects), whatever the gap (a year, a century): no record per daily
reset, Time tick or Sliding step in between.
"""

from __future__ import annotations

import pytest

from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Notification

try:
    from tests.stats.engine_builders import act, at, config, durable, feed, growing, sliding, stat
except ImportError:
    from engine_builders import act, at, config, durable, feed, growing, sliding, stat

DAY = 86_400
YEAR = 365 * DAY


def statistics():
    return [
        stat("TotalNumber", ["Accepted"], name="Daily", objects=("Agent", "Tenant")),
        stat("TotalTime", ["HandlingInbound"], name="HalfHourly", objects=("Agent",),
             profile=growing(range(0, 1440, 30), name="H")),
        stat("TotalNumber", ["Accepted"], name="LastHour", profile=sliding(3600, 60), objects=("Agent",)),
        stat("CurrentTime", ["HandlingInbound"], name="Busy", objects=("Agent",)),
        stat("TotalNumber", ["Accepted"], name="Timed", objects=("Agent",),
             notification=Notification("Time", frequency_s=10)),
    ]


@pytest.mark.parametrize("gap", [YEAR, 100 * YEAR])
def test_a_jump_closes_the_last_interval_with_data_once(gap):
    engine = StatEngine(config(*statistics()))
    feed(engine, [act("Accepted", 10, dur=5, iid="i1"), *durable("HandlingInbound", 20, 80, iid="i2")])
    out = engine.advance(at(gap))
    resets = [r for r in out if r["Reason"] == "Reset"]
    # One closed interval per Growing statistic and object: the one with data.
    assert sorted((r["Statistic"], r["ObjectType"]) for r in resets) == [
        ("Busy", "Agent"), ("Daily", "Agent"), ("Daily", "Tenant"), ("HalfHourly", "Agent"),
        ("Timed", "Agent"),
    ]
    daily = next(r for r in resets if r["Statistic"] == "Daily" and r["ObjectType"] == "Agent")
    day = (at(-9 * 3600), at(15 * 3600))  # the UTC day of T0 (09:00)
    assert (daily["Value"], daily["IntervalStart"], daily["IntervalEnd"]) == (1.0, *day)
    half = next(r for r in resets if r["Statistic"] == "HalfHourly")
    assert (half["Value"], half["IntervalEnd"]) == (60.0, at(30 * 60))
    # one per object on each side of its reset (the last before it, the last of the jump), not one
    # per 10 s
    timers = [r for r in out if r["Reason"] == "Timer"]
    assert [r["IntervalStart"] for r in timers] == [day[0], at(gap - 9 * 3600)]
    assert len(out) <= 17
    # The current interval started: the day (or half hour) containing the new clock, empty.
    after = engine.finals(at(gap))
    finals = {(r["Statistic"], r["ObjectType"]): r for r in after if r["Reason"] == "Final"}
    assert finals[("Daily", "Agent")]["Value"] == 0.0
    assert finals[("Daily", "Agent")]["IntervalStart"] == at(gap - 9 * 3600)
    assert finals[("LastHour", "Agent")]["Value"] == 0.0
    assert finals[("Busy", "Agent")]["Value"] == 0.0
    # and counts again from there
    feed(engine, [act("Accepted", gap + 1, dur=1, iid="i3")])
    assert engine.value("Daily", "Agent", "t1", "a1", at(gap + 2))["Value"] == 1.0
    assert engine.value("LastHour", "Agent", "t1", "a1", at(gap + 2))["Value"] == 1.0


def test_an_open_action_over_a_jump_keeps_counting():
    engine = StatEngine(config(*statistics()))
    feed(engine, durable("HandlingInbound", 0))  # never ends
    out = engine.advance(at(100 * YEAR))
    assert len(out) <= 16
    busy = engine.value("Busy", "Agent", "t1", "a1", at(100 * YEAR))
    assert busy["Value"] == 100 * YEAR
