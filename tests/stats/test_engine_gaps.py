"""The engine's clock jumping far ahead: the work and the records are O(objects), whatever the gap.

A bridge with a wrong clock can stamp an event a year or a century ahead. Validation keeps such
events out of the pipeline (``future-time``), but the engine must not depend on it: a jump of the
clock closes the interval that had data (one ``Reset`` per object), starts the current one, and
sends at most one Timer / Change per object — never one record per skipped day, step or tick.

Only the public engine API is used (``StatEngine(config)``, ``on_action``, ``advance``, ``finals``,
``value``), so these tests hold whatever the engine's internals look like.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.records.times import parse_time
from pipeline.stats.config import load_config
from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Notification
from tests.stats.engine_builders import T0, act, at, config, durable, growing, sliding, stat

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
MIDNIGHT = parse_time("2026-03-02T00:00:00Z")  # the Growing interval containing T0
AGENTS = ("a1", "a2", "a3")

GAPS = {"1-year": YEAR_MS, "100-years": 100 * YEAR_MS}


def _day_of_work(engine: StatEngine) -> list[dict]:
    """Three agents handle one interaction each between T0 and T0 + 10 min."""
    out: list[dict] = []
    for n, agent in enumerate(AGENTS):
        for action in durable("HandlingInbound", 60 * n, 60 * n + 300, obj=("Agent", agent), iid=f"i{n}"):
            out += engine.on_action(action, action["EventTime"])
    return out


def _handled(**kw) -> object:
    """Interactions handled, per agent and for the tenant: 4 objects after ``_day_of_work``."""
    return stat(
        "TotalNumber", ["HandlingInbound"], name=kw.pop("name", "Handled"), objects=("Agent", "Tenant"), **kw
    )


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_growing_jump_sends_the_closed_interval_once_then_starts_the_current_one(gap):
    engine = StatEngine(config(_handled(profile=growing())))
    _day_of_work(engine)
    later = T0 + gap
    records = engine.advance(later)
    resets = [r for r in records if r["Reason"] == "Reset"]
    # One Reset per object (3 agents + tenant): the day that had data, closed at its next midnight.
    assert len(resets) == len(AGENTS) + 1
    assert {(r["IntervalStart"], r["IntervalEnd"]) for r in resets} == {(MIDNIGHT, MIDNIGHT + DAY_MS)}
    assert Counter(r["Value"] for r in resets) == Counter({1.0: 3, 3.0: 1})
    assert len(records) <= 2 * (len(AGENTS) + 1)  # plus at most one Change per object
    # The current interval is the one containing the new clock, empty so far.
    current = engine.value("Handled", "Agent", "t1", "a1", later)
    assert current["Value"] == 0.0
    assert current["IntervalStart"] == later - (later - MIDNIGHT) % DAY_MS


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_growing_jump_then_new_actions_count_in_the_current_interval(gap):
    engine = StatEngine(config(_handled(profile=growing())))
    _day_of_work(engine)
    t = gap / 1000  # seconds after T0, for the builders
    records = []
    for action in durable("HandlingInbound", t, t + 120, obj=("Agent", "a1"), iid="late-1"):
        records += engine.on_action(action, action["EventTime"])
    assert len([r for r in records if r["Reason"] == "Reset"]) == len(AGENTS) + 1
    finals = {
        (r["ObjectType"], r["ObjectID"]): r for r in engine.finals(at(t + 120)) if r["Reason"] == "Final"
    }
    assert finals[("Agent", "a1")]["Value"] == 1.0
    assert finals[("Agent", "a2")]["Value"] == 0.0
    assert finals[("Tenant", "t1")]["Value"] == 1.0
    start = at(t) - (at(t) - MIDNIGHT) % DAY_MS
    assert {r["IntervalStart"] for r in finals.values()} == {start}


def test_growing_jump_counts_an_instance_across_the_gap_only_in_the_current_interval():
    """An instance open across the gap: its time and CurrentNumber's area count from the new midnight."""
    total = stat("TotalTime", ["HandlingInbound"], name="Handle_Time", profile=growing())
    average = stat("AverageOfCurrentNumber", ["HandlingInbound"], name="Handling_Avg", profile=growing())
    engine = StatEngine(config(total, average))
    later_s = YEAR_MS / 1000
    for action in durable("HandlingInbound", 0, later_s + 60, iid="i1"):
        engine.on_action(action, action["EventTime"])
    end = at(later_s + 60)
    midnight = end - (end - MIDNIGHT) % DAY_MS
    handle = engine.value("Handle_Time", "Agent", "t1", "a1", end)
    assert handle["IntervalStart"] == midnight
    assert handle["Value"] == pytest.approx((end - midnight) / 1000)
    # Busy (CurrentNumber 1) for the whole current interval up to the End, then 0 for 10 minutes.
    avg = engine.value("Handling_Avg", "Agent", "t1", "a1", end + 600_000)
    assert avg["Value"] == pytest.approx((end - midnight) / (end + 600_000 - midnight))


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_time_mode_sends_one_timer_per_object_across_a_gap(gap):
    """One timer per object for the whole gap, or, when the gap crosses a reset, one on each side of
    it (the last multiple before the reset, on the interval it closes; the last one of the gap)."""
    every_second = Notification(mode="Time", frequency_s=1)
    engine = StatEngine(config(_handled(profile=growing(), notification=every_second)))
    _day_of_work(engine)
    start = engine.clock
    records = engine.advance(T0 + gap)
    timers = [r for r in records if r["Reason"] == "Timer"]
    crosses_reset = any(r["Reason"] == "Reset" for r in records)
    assert len(timers) == (len(AGENTS) + 1) * (2 if crosses_reset else 1)
    assert len(records) <= 3 * (len(AGENTS) + 1)
    # each timer is evaluated at its own instant on the grid, not at the clock that crossed it
    assert all(r["EmittedAt"] % 1000 == 0 and start < r["EmittedAt"] <= T0 + gap for r in timers)


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_sliding_changes_look_once_across_a_gap(gap):
    """A Sliding value in Changes mode: the window empties once, one Change per object."""
    last_hour = _handled(name="Handled_Last_Hour", profile=sliding(3600, 1))
    engine = StatEngine(config(last_hour))
    _day_of_work(engine)
    later = T0 + gap
    records = engine.advance(later)
    assert len(records) <= len(AGENTS) + 1
    assert all(r["Value"] == 0.0 for r in records)
    assert engine.value("Handled_Last_Hour", "Agent", "t1", "a1", later)["Value"] == 0.0


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_clock_moved_changes_look_once_across_a_gap(gap):
    """CurrentTime moves with the clock (looked at every 10 s): one look, not one per 10 s."""
    ongoing = stat("CurrentTime", ["HandlingInbound"], name="Handling_Now", profile=growing())
    engine = StatEngine(config(ongoing))
    start = act("HandlingInbound", 0, "Start", iid="i1")
    engine.on_action(start, start["EventTime"])
    records = engine.advance(T0 + gap)
    assert len([r for r in records if r["Reason"] == "Change"]) <= 2 * 2  # agent and tenant
    assert len(records) <= 3 * 2


@pytest.mark.parametrize("gap", GAPS.values(), ids=GAPS.keys())
def test_starter_configuration_jump_is_linear_in_objects(gap):
    """Every shipped statistic (Growing, Sliding, status, ratios): records ≤ a few per accumulator."""
    engine = StatEngine(load_config(None))
    _day_of_work(engine)
    for agent in AGENTS:
        login = act("Active", 0, "Start", obj=("Agent", agent), media=None)
        engine.on_action(login, login["EventTime"])
    finals_now = engine.finals(T0 + 3600_000)
    accumulators = len({(r["Statistic"], r["ObjectType"], r["ObjectID"]) for r in finals_now})
    records = engine.advance(T0 + gap)
    assert accumulators > 0
    assert len(records) <= 3 * accumulators
    finals = engine.finals(T0 + gap + 1000)
    assert len(finals) <= 3 * accumulators
