"""Notification modes: Changes (insensitivity, first value, 10 s re-send), Time, Reset, None."""

from __future__ import annotations

from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Notification
from tests.stats.engine_builders import act, at, config, durable, feed, sliding, stat


def engine_for(category: str, main, notification: Notification, **kw) -> StatEngine:
    return StatEngine(config(stat(category, main, notification=notification, name="S", **kw)))


def test_changes_sends_the_first_value_then_moves_of_at_least_the_insensitivity():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Changes", insensitivity=2))
    out = feed(engine, [act("StoppedInbound", t, iid=f"i{t}", dur=5) for t in (10, 20, 30, 40)])
    assert [r["Value"] for r in out] == [1, 3]
    assert {r["Reason"] for r in out} == {"Change"}
    rec = out[0]
    assert rec["Statistic"] == "S" and rec["Category"] == "TotalNumber" and rec["Unit"] == "count"
    assert rec["IntervalStart"] == at(-9 * 3600) and rec["IntervalEnd"] is None and rec["EmittedAt"] == at(10)


def test_changes_first_value_always_even_when_zero():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Changes"))
    out = feed(engine, [act("DeliveringStarted", 10, iid="i1")])
    assert [r["Value"] for r in out] == [0]


def test_clock_growing_values_are_resent_at_most_every_10_seconds():
    engine = engine_for("CurrentTime", ["Handling"], Notification("Changes", insensitivity=1))
    out = feed(engine, durable("Handling", 0, iid="i1"))
    assert [r["Value"] for r in out] == [0]
    sent = []
    for t in (3, 5, 9.999, 10, 12, 15, 19, 20, 27):
        sent += [(t, r["Value"]) for r in engine.advance(at(t))]
    assert sent == [(10, 10), (20, 20)]


def test_time_mode_sends_every_frequency_seconds_once_per_crossing():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Time", frequency_s=30))
    out = feed(engine, [act("StoppedInbound", 10, iid="i1", dur=5)])
    assert out == []  # no change records in Time mode
    times = []
    for t in (29, 30, 45, 60, 200):
        times += [(t, r["Reason"], r["Value"]) for r in engine.advance(at(t))]
    assert times == [(30, "Timer", 1), (60, "Timer", 1), (200, "Timer", 1)]


def test_reset_mode_sends_only_closed_values():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Reset"))
    out = feed(engine, [act("StoppedInbound", t, iid=f"i{t}", dur=5) for t in (10, 20)])
    assert out == []
    out = engine.advance(at(15 * 3600))  # midnight UTC
    assert [(r["Reason"], r["Value"], r["IntervalEnd"]) for r in out] == [("Reset", 2, at(15 * 3600))]


def test_time_mode_also_sends_the_closed_value_at_reset():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Time", frequency_s=3600))
    feed(engine, [act("StoppedInbound", 10, iid="i1", dur=5)])
    reasons = [r["Reason"] for r in engine.advance(at(15 * 3600))]
    assert reasons.count("Reset") == 1 and "Timer" in reasons


def test_none_mode_sends_nothing_but_answers_queries_and_finals():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("None"))
    out = feed(engine, [act("StoppedInbound", 10, iid="i1", dur=5)])
    out += engine.advance(at(20 * 3600))  # across midnight
    assert out == []
    assert engine.value("S", "Agent", "t1", "a1", at(20 * 3600))["Value"] == 0
    assert [r["Reason"] for r in engine.finals(at(20 * 3600))] == ["Final"]


def test_changes_after_a_reset_sends_the_new_interval_when_it_differs():
    engine = engine_for("TotalNumber", ["StoppedInbound"], Notification("Changes"))
    feed(engine, [act("StoppedInbound", 10, iid="i1", dur=5)])
    out = engine.advance(at(15 * 3600))
    assert [(r["Reason"], r["Value"]) for r in out] == [("Reset", 1), ("Change", 0)]


def test_current_state_changes_only_when_the_state_changes():
    engine = engine_for("CurrentState", ["*"], Notification("Changes"), subject="AgentStatus")
    out = feed(engine, [
        *durable("Active", 0), *durable("Available", 0, 30),
        act("DeliveringStarted", 20, iid="i1"),  # not a status change
        *durable("Blocked", 30, reason={"ReasonCode": "Lunch"}),
    ])
    statuses = [r["State"]["Status"] for r in out]
    # Available ends before Blocked starts at 30: the record per action shows the instant between
    # (documented: changes are sent per action, not coalesced per instant)
    assert statuses == ["Active", "Available", "Active", "Blocked"]
    assert all(r["Value"] is None and r["Unit"] == "state" for r in out)


def test_sliding_values_are_rechecked_when_the_window_moves():
    changes = Notification("Changes")
    engine = engine_for("TotalNumber", ["DeliveringStarted"], changes, profile=sliding(60, 20))
    feed(engine, [act("DeliveringStarted", 5, iid="i1")])
    values = [(t, r["Value"]) for t in (20, 40, 59, 60, 80) for r in engine.advance(at(t))]
    assert values == [(60, 0)]
