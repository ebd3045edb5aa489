"""Time profiles: Growing resets (zones, DST, several times a day), Sliding, Selection, SinceLogin."""

from __future__ import annotations

import pytest

from pipeline.records.times import parse_time, to_iso
from pipeline.stats import profiles
from pipeline.stats.engine import StatEngine
from pipeline.stats.model import TimeProfile
from tests.stats.engine_builders import (
    act,
    at,
    config,
    durable,
    feed,
    growing,
    selection,
    since_login,
    sliding,
    stat,
)


def iso(ms: int) -> str:
    return to_iso(ms)


BERLIN = growing((0,), tz="Europe/Berlin", name="BerlinDay")


# ------------------------------------------------------------------------------------- reset math


def test_midnight_resets_in_berlin_across_spring_forward():
    t = parse_time("2026-03-29T12:00:00Z")
    assert iso(profiles.last_reset(BERLIN, t)) == "2026-03-28T23:00:00.000Z"  # 00:00 CET
    assert iso(profiles.next_reset(BERLIN, t)) == "2026-03-29T22:00:00.000Z"  # 00:00 CEST: a 23 h day


def test_reset_at_a_skipped_local_time_happens_at_the_transition():
    p = growing((150,), tz="Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    t = parse_time("2026-03-28T12:00:00Z")
    assert iso(profiles.next_reset(p, t)) == "2026-03-29T01:00:00.000Z"  # = 03:00 CEST


def test_reset_at_a_repeated_local_time_happens_once_at_the_first_occurrence():
    p = growing((150,), tz="Europe/Berlin")  # 02:30 happens twice on 2026-10-25
    first = profiles.next_reset(p, parse_time("2026-10-24T12:00:00Z"))
    assert iso(first) == "2026-10-25T00:30:00.000Z"  # 02:30 CEST
    assert iso(profiles.next_reset(p, first)) == "2026-10-26T01:30:00.000Z"  # next day, 02:30 CET


def test_half_hourly_and_several_reset_times():
    half = TimeProfile(name="HalfHour", kind="Growing", reset_minutes=tuple(range(0, 1440, 30)))
    assert iso(profiles.next_reset(half, parse_time("2026-03-02T09:10:00Z"))) == "2026-03-02T09:30:00.000Z"
    assert iso(profiles.last_reset(half, parse_time("2026-03-02T09:30:00Z"))) == "2026-03-02T09:30:00.000Z"
    shifts = growing((480, 960, 0), name="Shifts")
    t = parse_time("2026-03-02T17:00:00Z")
    assert iso(profiles.last_reset(shifts, t)) == "2026-03-02T16:00:00.000Z"
    assert iso(profiles.next_reset(shifts, t)) == "2026-03-03T00:00:00.000Z"


def test_new_york_day():
    ny = growing((0,), tz="America/New_York")
    assert iso(profiles.next_reset(ny, parse_time("2026-03-02T09:00:00Z"))) == "2026-03-03T05:00:00.000Z"


# --------------------------------------------------------------------------- Growing in the engine


def _handled(t_iso: str, iid: str, dur_s: int = 60) -> dict:
    record = act("StoppedInbound", 0, iid=iid, dur=dur_s)
    end = parse_time(t_iso)
    return {**record, "EventTime": end, "StartTime": end - dur_s * 1000}


def test_growing_interval_is_half_open_and_closed_value_is_sent_at_reset():
    engine = StatEngine(config(stat("TotalNumber", ["StoppedInbound"], profile=BERLIN, name="Handled")))
    out = feed(engine, [
        _handled("2026-03-29T10:00:00Z", "i1"),
        _handled("2026-03-29T21:59:59.999Z", "i2"),
        _handled("2026-03-29T22:00:00Z", "i3"),  # exactly at the reset: the new interval
    ])
    resets = [r for r in out if r["Reason"] == "Reset"]
    assert len(resets) == 1
    assert resets[0]["Value"] == 2
    assert iso(resets[0]["IntervalStart"]) == "2026-03-28T23:00:00.000Z"
    assert iso(resets[0]["IntervalEnd"]) == "2026-03-29T22:00:00.000Z"
    final = [r for r in engine.finals(parse_time("2026-03-29T23:00:00Z")) if r["Reason"] == "Final"]
    assert final[0]["Value"] == 1 and iso(final[0]["IntervalStart"]) == "2026-03-29T22:00:00.000Z"


def test_total_time_splits_at_a_reset_and_adjusted_time_does_not():
    half = TimeProfile(name="HalfHour", kind="Growing", reset_minutes=tuple(range(0, 1440, 30)))
    stats = [
        stat("TotalTime", ["Handling"], profile=half, name="TT"),
        stat("TotalAdjustedTime", ["Handling"], profile=half, name="TAT"),
    ]
    engine = StatEngine(config(*stats))
    out = feed(engine, durable("Handling", 1700, 1900, iid="i1"))  # 09:28:20 → 09:31:40
    resets = {r["Statistic"]: r["Value"] for r in out if r["Reason"] == "Reset"}
    assert resets == {"TT": 0, "TAT": 0}  # nothing completed before 09:30
    finals = {r["Statistic"]: r["Value"] for r in engine.finals(at(1900)) if r["Reason"] == "Final"}
    assert finals == {"TT": 100, "TAT": 200}  # only the part after 09:30 is credited


def test_finals_at_a_reset_time_report_the_new_interval():
    engine = StatEngine(config(stat("TotalNumber", ["StoppedInbound"], name="Handled")))
    feed(engine, [_handled("2026-03-02T23:00:00Z", "i1")])
    out = engine.finals(parse_time("2026-03-03T00:00:00Z"))
    assert [r["Reason"] for r in out] == ["Reset", "Change", "Final"]
    assert out[0]["Value"] == 1 and out[-1]["Value"] == 0
    assert iso(out[-1]["IntervalStart"]) == "2026-03-03T00:00:00.000Z"


# ------------------------------------------------------------------------------------------ Sliding


def test_sliding_window_boundaries():
    engine = StatEngine(config(stat("TotalNumber", ["DeliveringStarted"], profile=sliding(60, 20))))
    feed(engine, [act("DeliveringStarted", t, iid=f"i{t}") for t in (5, 25, 45, 65)])
    number = lambda t: engine.value("TotalNumber", "Agent", "t1", "a1", at(t))["Value"]  # noqa: E731
    assert number(65) == 3  # window [20, 65]
    assert number(79.999) == 3
    assert number(80) == 2  # window [40, 80]
    assert engine.value("TotalNumber", "Agent", "t1", "a1", at(80))["IntervalStart"] == at(40)
    assert number(100) == 1
    assert number(120) == 0


def test_sliding_total_time_is_split_over_buckets():
    engine = StatEngine(config(stat("TotalTime", ["Handling"], profile=sliding(60, 20))))
    feed(engine, durable("Handling", 10, 50, iid="i1"))  # 10 s in [0,20), 20 in [20,40), 10 in [40,60)
    total = lambda t: engine.value("TotalTime", "Agent", "t1", "a1", at(t))["Value"]  # noqa: E731
    assert total(50) == 40
    assert total(60) == 30
    assert total(80) == 10
    assert total(100) == 0


def test_sliding_state_stays_bounded():
    engine = StatEngine(config(stat("TotalNumber", ["DeliveringStarted"], profile=sliding(60, 20))))
    feed(engine, [act("DeliveringStarted", t, iid=f"i{t}") for t in range(0, 3600, 7)])
    acc = engine.export_state()["accumulators"]["TotalNumber/Agent/t1/a1"]
    assert len(acc["w"]["bs"]) <= 3
    assert engine.value("TotalNumber", "Agent", "t1", "a1", at(3599))["Value"] == len(
        [t for t in range(0, 3600, 7) if t >= 3540])


# ---------------------------------------------------------------------------------------- Selection


def test_selection_keeps_the_last_n_completions():
    stats = [stat(c, ["Accepted"], profile=selection(3), name=c)
             for c in ("TotalNumber", "AverageTime", "MaxTime", "MinTime", "TotalAdjustedTime")]
    engine = StatEngine(config(*stats))
    feed(engine, [act("Accepted", 100 + i, dur=d, iid=f"i{i}") for i, d in enumerate((10, 20, 30, 40))])
    finals = {r["Statistic"]: r["Value"] for r in engine.finals(at(200))}
    expected = {"TotalNumber": 3, "AverageTime": 30, "MaxTime": 40, "MinTime": 20, "TotalAdjustedTime": 90}
    assert finals == expected
    acc = engine.export_state()["accumulators"]["TotalNumber/Agent/t1/a1"]
    assert len(acc["w"]["sM"]) == 3


# --------------------------------------------------------------------------------------- SinceLogin


def test_since_login_across_a_relogin():
    stats = [
        stat("TotalNumber", ["StoppedInbound"], profile=since_login(), name="Handled"),
        stat("TotalTime", ["Active"], profile=since_login(), name="LoggedIn"),
    ]
    engine = StatEngine(config(*stats))
    out = feed(engine, [
        *durable("Active", 0, 100),
        act("StoppedInbound", 50, iid="i1", dur=20),
        *durable("Active", 200),
        act("StoppedInbound", 250, iid="i2", dur=20),
    ])
    resets = {r["Statistic"]: (r["Value"], r["IntervalStart"], r["IntervalEnd"]) for r in out
              if r["Reason"] == "Reset"}
    assert resets == {"Handled": (1, at(0), at(100)), "LoggedIn": (100, at(0), at(100))}
    q = engine.value("Handled", "Agent", "t1", "a1", at(260))
    assert (q["Value"], q["IntervalStart"], q["IntervalEnd"]) == (1, at(200), None)


def test_since_login_session_frozen_after_logout_and_spans_several_media():
    engine = StatEngine(config(stat("TotalTime", ["Active"], profile=since_login(), name="LoggedIn")))
    feed(engine, [
        *durable("Active", 0, 50, media="email"),
        *durable("Active", 10, 80, media="chat"),  # logged in until the last channel goes
    ])
    assert engine.value("LoggedIn", "Agent", "t1", "a1", at(80))["Value"] == 120
    q = engine.value("LoggedIn", "Agent", "t1", "a1", at(500))
    assert (q["Value"], q["IntervalStart"], q["IntervalEnd"]) == (120, at(0), at(80))
    finals = engine.finals(at(500))
    assert [r["Reason"] for r in finals] == ["Reset", "Final"]


def test_since_login_before_any_login_is_empty():
    engine = StatEngine(config(stat("TotalNumber", ["*"], profile=since_login(), name="S")))
    feed(engine, [act("DeliveringStarted", 5, iid="i1")])
    final = engine.finals(at(10))[-1]
    assert (final["Value"], final["IntervalStart"]) == (0, None)


@pytest.mark.parametrize("length,step,t,expected_start", [(3600, 60, 3725, 180), (60, 20, 65, 20)])
def test_window_start_formula(length, step, t, expected_start):
    p = TimeProfile(name="S", kind="Sliding", length_s=length, step_s=step)
    assert profiles.window_start(p, t * 1000) == expected_start * 1000
