"""Properties over arbitrary action streams (hypothesis)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, at, config, growing, sliding, stat

NINE = growing((540,), name="Nine")  # interval [T0, T0 + 1 day)
UNTIL = 7200

instances = st.lists(
    st.tuples(
        st.integers(min_value=-3600, max_value=UNTIL),  # start (s), may lie before the interval
        st.integers(min_value=0, max_value=5400),  # duration (s)
        st.sampled_from(["Handling", "Delivering"]),
        st.sampled_from(["email", "chat"]),
    ),
    max_size=25,
)


def stream(items):
    actions = []
    for n, (start, dur, name, media) in enumerate(items):
        actions.append(act(name, start, "Start", iid=f"i{n}", media=media))
        if start + dur <= UNTIL:
            actions.append(act(name, start + dur, "End", iid=f"i{n}", media=media, dur=dur))
    actions.sort(key=lambda a: a["EventTime"])  # stable: same-time order as generated
    return actions


def max_concurrency(items, name: str) -> int:
    events = []
    for start, dur, n, _media in items:
        if n == name:
            events += [(start, 1), (min(start + dur, UNTIL + 1), -1)]
    best = cur = 0
    for _t, d in sorted(events, key=lambda e: (e[0], e[1])):
        cur += d
        best = max(best, cur)
    return best


@settings(max_examples=150, deadline=None)
@given(instances)
def test_adjusted_time_is_the_sum_and_total_time_is_bounded(items):
    assume(items)  # no action at all: nothing to check
    stats = [
        stat("TotalAdjustedTime", ["Handling"], profile=NINE, name="TAT"),
        stat("TotalTime", ["Handling"], profile=NINE, name="TT"),
        stat("TotalNumber", ["Handling"], profile=NINE, name="TN"),
        stat("TotalTime", ["Handling"], profile=sliding(1800, 60), name="TT30"),
    ]
    engine = StatEngine(config(*stats))
    for action in stream(items):
        engine.on_action(action, action["EventTime"])
    finals = {r["Statistic"]: r["Value"] for r in engine.finals(at(UNTIL)) if r["Reason"] == "Final"}
    assert finals, "actions came in, so every statistic has a final value"
    completed = [(s, d) for s, d, n, _m in items if n == "Handling" and 0 <= s + d <= UNTIL]
    assert finals["TAT"] == sum(d for _s, d in completed)
    assert finals["TN"] == len(completed)
    concurrency = max_concurrency(items, "Handling")
    assert 0 <= finals["TT"] <= UNTIL * concurrency
    assert finals["TT"] <= finals["TAT"]
    assert 0 <= finals["TT30"] <= 1800 * concurrency


@settings(max_examples=60, deadline=None)
@given(instances)
def test_current_number_never_negative_and_matches_open_instances(items):
    assume(items)  # no action at all: nothing to check
    engine = StatEngine(config(stat("CurrentNumber", ["Handling", "Delivering"], profile=NINE, name="CN")))
    actions = stream(items)
    for action in actions:
        engine.on_action(action, action["EventTime"])
    open_count = sum(1 for s, d, _n2, _m in items if s + d > UNTIL)
    finals = [r for r in engine.finals(at(UNTIL)) if r["Reason"] == "Final"]
    assert len(finals) == 1, "one agent, one statistic"
    assert finals[0]["Value"] >= 0
    assert finals[0]["Value"] == open_count
