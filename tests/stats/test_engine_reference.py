"""The incremental engine against the brute-force reference (``tests/stats/reference.py``).

Random action streams of two agents (a group holds one of them) go through the engine for every
category × time profile × notification mode; every value the engine sends, and every Final, must
be the value the reference recomputes from the whole history at that time, and each mode must send
exactly the records it promises. A merge property checks that partial accumulators add up.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.stats.accumulator import STATE_CATEGORIES, mergeable
from pipeline.stats.categories import moves_with_clock
from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Notification

try:
    from tests.stats.engine_builders import act, at, config, growing, selection, since_login, sliding, stat
    from tests.stats.reference import Reference
except ImportError:
    from engine_builders import act, at, config, growing, selection, since_login, sliding, stat
    from reference import Reference

CATEGORIES = [
    "CurrentNumber", "CurrentTime", "CurrentMaxTime", "CurrentMinTime", "CurrentAverageTime",
    "CurrentRelativeNumberPercentage", "CurrentNumberInTimeRange", "CurrentNumberInTimeRangePercentage",
    "CurrentContinuousTime", "TotalNumber", "TotalTime", "TotalAdjustedNumber", "TotalAdjustedTime",
    "AverageTime", "MaxTime", "MinTime", "MaxNumber", "MinNumber", "AverageOfCurrentNumber",
    "AverageNumberPerRelativeHour", "ElapsedTimePercentage", "RelativeNumberPercentage",
    "RelativeTimePercentage", "TotalNumberInTimeRange", "TotalTimeInTimeRange",
    "TotalNumberInTimeRangePercentage", "TotalNumberPerSecond",
]
PROFILES = {
    "Growing": growing(tuple(range(0, 1440, 20)), name="Every20"),  # resets every 20 min
    "Sliding": sliding(600, 60, name="Last10"),
    "Selection": selection(3, name="Last3"),
    "SinceLogin": since_login(),
}
MODES = {
    "Changes": Notification("Changes", insensitivity=1),
    "Time": Notification("Time", frequency_s=300),
    "Reset": Notification("Reset"),
    "None": Notification("None"),
}
MAIN = ["HandlingInbound", "Accepted", "DeliveringStarted"]
REL = ["HandlingInbound", "Delivering", "Accepted", "DeliveringStarted"]
GROUPS = {"G1": ["a1"]}
UNTIL = 3 * 3600

items = st.lists(
    st.tuples(
        st.sampled_from(["HandlingInbound", "Delivering", "Accepted", "DeliveringStarted", "Active"]),
        st.sampled_from(["a1", "a2"]),
        st.integers(min_value=0, max_value=UNTIL),  # start (s)
        st.integers(min_value=0, max_value=2400),  # duration (s)
        st.sampled_from(["i1", "i2", "i3"]),
    ),
    min_size=1,
    max_size=18,
)


def stream(rows) -> list[dict[str, Any]]:
    """Actions in EventTime order (stable); durable ones end only inside the stream."""
    actions = []
    for name, agent, start, dur, iid in rows:
        obj = ("Agent", agent)
        if name in ("HandlingInbound", "Delivering", "Active"):
            key = None if name == "Active" else iid
            actions.append(act(name, start, "Start", obj=obj, iid=key))
            if start + dur <= UNTIL:
                actions.append(act(name, start + dur, "End", obj=obj, iid=key, dur=dur))
        elif name == "Accepted":
            actions.append(act(name, start, obj=obj, iid=iid, dur=dur % 120))
        else:
            actions.append(act(name, start, obj=obj, iid=iid))
    return sorted(actions, key=lambda a: a["EventTime"])


def statistics(profile: str, mode: str) -> list:
    return [
        stat(c, MAIN, REL, name=c, objects=("Agent", "GroupAgents", "Tenant"), profile=PROFILES[profile],
             time_range=(0, 60), notification=MODES[mode])
        for c in CATEGORIES
    ]


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def check_stream(profile: str, mode: str, rows) -> None:
    stats = statistics(profile, mode)
    by_name = {s.name: s for s in stats}
    engine = StatEngine(config(*stats, agents=GROUPS))
    ref = Reference({g: frozenset(m) for g, m in GROUPS.items()})
    sent: dict[tuple[str, str, str], float] = {}

    def check(records: list[dict], action: dict | None) -> None:
        previous_reset: set[tuple[str, str, str]] = set()
        for rec in records:
            s = by_name[rec["Statistic"]]
            obj = (rec["ObjectType"], rec["ObjectID"])
            key = (s.name, *obj)
            if rec["Reason"] == "Reset":
                interval = (rec["IntervalStart"], rec["IntervalEnd"])
                expected = ref.value(s, obj, rec["IntervalEnd"], interval)
                previous_reset.add(key)
            elif key in previous_reset:  # the new interval's value at its start, or a later check's
                previous_reset.discard(key)
                expected = ref.value(s, obj, rec["EmittedAt"])
                if not close(rec["Value"], expected):
                    expected = ref.value(s, obj, rec["IntervalStart"])
            else:
                expected = ref.value(s, obj, rec["EmittedAt"])
                bounds = (rec["IntervalStart"], rec["IntervalEnd"])
                assert bounds == ref.interval(s, obj, rec["EmittedAt"]), rec
            assert close(rec["Value"], expected), (rec, expected)
            if rec["Reason"] in ("Change", "Reset"):
                sent[key] = rec["Value"]
        reasons = {r["Reason"] for r in records}
        allowed = {
            "Changes": {"Change", "Reset"}, "Time": {"Timer", "Reset"}, "Reset": {"Reset"}, "None": set(),
        }
        assert reasons <= allowed[mode], reasons
        if mode == "Changes" and action is not None:
            # Every (statistic, object) the action touched sends a record exactly when its value
            # moved by the insensitivity (clock-moved values may also be sent at checks only).
            got = {
                (r["Statistic"], r["ObjectType"], r["ObjectID"]) for r in records if r["Reason"] == "Change"
            }
            for s in stats:
                if moves_with_clock(s):
                    continue
                for obj in ref.objects_of(action):
                    if obj[0] not in s.stat_type.objects:
                        continue
                    key = (s.name, *obj)
                    if key in got:
                        continue
                    value = ref.value(s, obj, action["EventTime"])
                    assert key in sent and abs(value - sent[key]) < 1, (key, value, sent.get(key))

    for action in stream(rows):
        check(engine.advance(action["EventTime"]), None)
        ref.add(action)
        check(engine.on_action(action, action["EventTime"]), action)
    out = engine.finals(at(UNTIL + 600))
    check([r for r in out if r["Reason"] != "Final"], None)
    finals = [r for r in out if r["Reason"] == "Final"]
    until = at(UNTIL + 600)
    for rec in finals:
        s = by_name[rec["Statistic"]]
        obj = (rec["ObjectType"], rec["ObjectID"])
        assert close(rec["Value"], ref.value(s, obj, until)), (rec, ref.value(s, obj, until))
    objects = [("Agent", "a1"), ("Agent", "a2"), ("GroupAgents", "G1"), ("Tenant", "t1")]
    expected_objects = {(s.name, *o) for s in stats for o in objects if ref.seen(s, o) is not None}
    assert {(r["Statistic"], r["ObjectType"], r["ObjectID"]) for r in finals} == expected_objects


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("profile", list(PROFILES))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=items)
def test_engine_equals_reference(profile, mode, rows):
    check_stream(profile, mode, rows)


# -------------------------------------------------------------------------------------------- merge


@pytest.mark.parametrize("profile", list(PROFILES))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=items, k=st.integers(min_value=1, max_value=3), salt=st.integers(min_value=0, max_value=5))
def test_partials_merge_into_the_whole(profile, rows, k, salt):
    """Split a stream by member into k parts, aggregate each, merge: the values of the whole."""
    stats = [s for s in statistics(profile, "None") if mergeable(s)]
    actions = stream(rows)
    if profile == "Selection":  # the last N of completions at one instant in two parts: order undefined
        ends = [
            (a["EventTime"], a["ObjectID"]) for a in actions if a["Kind"] != "Durable" or a["Phase"] == "End"
        ]
        assume(len({t for t, _ in ends}) == len(set(ends)) or k == 1)
    until = at(UNTIL + 600)
    whole = StatEngine(config(*stats, agents=GROUPS))
    for action in actions:
        whole.on_action(action, action["EventTime"])
    whole.advance(until)
    parts = [StatEngine(config(*stats, agents=GROUPS)) for _ in range(k)]
    for action in actions:
        part = parts[(int(action["ObjectID"][1:]) + salt) % k]  # every action of one member together
        part.on_action(action, action["EventTime"])
    for part in parts:
        part.advance(until)
    merged = parts[0]
    for part in parts[1:]:
        merged.merge_from(part)
    expected = {(r["Statistic"], r["ObjectType"], r["ObjectID"]): r["Value"] for r in whole.finals(until)}
    got = {(r["Statistic"], r["ObjectType"], r["ObjectID"]): r["Value"] for r in merged.finals(until)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert close(got[key], value), (key, got[key], value)


def test_unmergeable_categories_say_so():
    from pipeline.stats.accumulator import merge

    stats = statistics("Growing", "None")
    engines = [StatEngine(config(*stats, agents=GROUPS)) for _ in range(2)]
    for engine, agent in zip(engines, ["a1", "a2"], strict=True):
        engine.on_action(act("HandlingInbound", 10, "Start", obj=("Agent", agent), iid="i1"), at(10))
    for s in stats:
        unmergeable = {"MaxNumber", "MinNumber", "CurrentContinuousTime"}
        assert mergeable(s) == (s.stat_type.category not in unmergeable)
    for s in statistics("SinceLogin", "None"):
        if s.stat_type.category in ("TotalTime", "ElapsedTimePercentage", "RelativeTimePercentage"):
            assert not mergeable(s)
        assert s.stat_type.category not in STATE_CATEGORIES
    with pytest.raises(ValueError, match="cannot be merged"):
        engines[0].merge_from(engines[1])
    assert merge is not None
