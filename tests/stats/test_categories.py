"""Every category of statistics.md on a small hand-computed action list.

Times are seconds after T0 = 09:00 UTC. Historical examples use a Growing profile resetting at
09:00 (``NINE``) so the interval starts at T0 and elapsed time is easy to read.
"""

from __future__ import annotations

import pytest

from tests.stats.engine_builders import act, durable, growing, run, stat

NINE = growing((540,), name="Nine")
HANDLING = ["Handling"]

# Handling i1 10→70, i2 40→140 completed; i3 from 200 and i4 from 250 ongoing; logged in from 0.
WORK = [
    *durable("Active", 0),
    *durable("Handling", 10, 70, iid="i1"),
    *durable("Handling", 40, 140, iid="i2"),
    *durable("Handling", 200, iid="i3"),
    *durable("Handling", 250, iid="i4"),
]


def value(category: str, main=HANDLING, rel=(), actions=WORK, until=300, **kw):
    return run([stat(category, main, rel, profile=NINE, **kw)], actions, until)


# ------------------------------------------------------------------------------------------ current


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("CurrentNumber", 2),  # i3, i4
        ("CurrentTime", 150),  # 100 + 50
        ("CurrentMaxTime", 100),
        ("CurrentMinTime", 50),
        ("CurrentAverageTime", 75),
    ],
)
def test_current_categories_use_the_clock(category, expected):
    assert value(category) == pytest.approx(expected)


def test_current_relative_number_percentage():
    assert value("CurrentRelativeNumberPercentage", rel=["Handling", "Active"]) == pytest.approx(100 * 2 / 3)


def test_current_number_in_time_range_and_percentage():
    assert value("CurrentNumberInTimeRange", time_range=(0, 60)) == 1  # age 50 in, age 100 out
    assert value("CurrentNumberInTimeRangePercentage", rel=HANDLING, time_range=(0, 60)) == pytest.approx(50)


def test_current_categories_ignore_momentary_and_retrospective_actions():
    actions = [act("HandlingStarted", 10, iid="i1"), act("StoppedInbound", 20, dur=10, iid="i1")]
    assert value("CurrentNumber", main=["*"], actions=actions, until=30) == 0


def test_current_division_by_zero_and_empty():
    assert value("CurrentAverageTime", main=["Delivering"]) == 0
    assert value("CurrentRelativeNumberPercentage", rel=["Delivering"]) == 0
    assert value("CurrentMaxTime", main=["Delivering"]) == 0
    assert value("CurrentNumberInTimeRangePercentage", rel=["Delivering"], time_range=(0, 60)) == 0


def test_current_continuous_time_dn_action_end_and_start_at_same_instant_do_not_interrupt():
    actions = [*durable("Available", 0, 60), *durable("Blocked", 60)]
    assert value("CurrentContinuousTime", main=["Available", "Blocked"], actions=actions, until=100) == 100
    assert value("CurrentContinuousTime", main=["Blocked"], actions=actions, until=100) == 40
    assert value("CurrentContinuousTime", main=["Available"], actions=actions, until=100) == 0


def test_current_state_and_reasons():
    lunch = {"ReasonCode": "Lunch"}
    actions = [*durable("Active", 0), *durable("Available", 0, 30), *durable("Blocked", 30, reason=lunch)]
    state = run([stat("CurrentState", subject="AgentStatus")], actions, 100)
    assert state["Status"] == "Blocked" and state["Media"] == {"email": "Blocked"}
    assert state["Reason"] is None and state["Since"] == actions[-1]["EventTime"]
    with_reasons = run([stat("CurrentStateReasons", subject="AgentStatus")], actions, 100)
    assert with_reasons["Reason"] == lunch


# --------------------------------------------------------------------------------------- historical


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("TotalNumber", 2),
        ("TotalTime", 160),  # ongoing i3/i4 do not count for DNAction
        ("TotalAdjustedNumber", 2),
        ("TotalAdjustedTime", 160),
        ("AverageTime", 80),
        ("MaxTime", 100),
        ("MinTime", 60),
        ("MaxNumber", 2),
        ("MinNumber", 0),
        ("AverageOfCurrentNumber", 310 / 300),  # 60 + 100 + 100 + 50 handling-seconds over 300 s
        ("ElapsedTimePercentage", 100 * 160 / 300),
    ],
)
def test_historical_categories(category, expected):
    assert value(category) == pytest.approx(expected)


LOGGED = [
    *durable("Active", 0, 200),
    *durable("Available", 0, 50),
    *durable("Available", 100, 200),
    *durable("Handling", 10, 70, iid="i1"),
    *durable("Handling", 40, 140, iid="i2"),
]


def test_relative_time_and_number_per_relative_hour():
    assert value("RelativeTimePercentage", ["Available"], ["Active"], LOGGED) == pytest.approx(75)
    assert value("AverageNumberPerRelativeHour", HANDLING, ["Active"], LOGGED) == pytest.approx(36)
    assert value("ElapsedTimePercentage", ["Available"], actions=LOGGED) == pytest.approx(50)


OFFERS = [
    *(act("DeliveringStarted", t, iid=f"i{t}") for t in (10, 20, 30, 40)),
    act("Accepted", 15, dur=5, iid="i10"),
    act("Accepted", 40, dur=20, iid="i20"),
    act("Accepted", 70, dur=40, iid="i30"),
]


def test_relative_number_and_time_range_categories():
    assert value("RelativeNumberPercentage", ["Accepted"], ["DeliveringStarted"], OFFERS) == pytest.approx(75)
    assert value("TotalNumberInTimeRange", ["Accepted"], actions=OFFERS, time_range=(0, 30)) == 2
    assert value("TotalTimeInTimeRange", ["Accepted"], actions=OFFERS, time_range=(0, 30)) == 25
    pct = value("TotalNumberInTimeRangePercentage", ["Accepted"], ["DeliveringStarted"], OFFERS,
                time_range=(0, 30))
    assert pct == pytest.approx(50)
    assert value("TotalNumberPerSecond", ["DeliveringStarted"], actions=OFFERS) == pytest.approx(4 / 300)
    # momentary actions complete with duration 0, retrospective ones with their DurationMs
    assert value("TotalAdjustedTime", ["Accepted", "DeliveringStarted"], actions=OFFERS) == pytest.approx(65)


@pytest.mark.parametrize(
    "category",
    ["TotalNumber", "TotalTime", "AverageTime", "MaxTime", "MinTime", "RelativeNumberPercentage",
     "RelativeTimePercentage", "AverageNumberPerRelativeHour", "TotalNumberInTimeRangePercentage",
     "MaxNumber", "AverageOfCurrentNumber"],
)
def test_empty_interval_and_division_by_zero_give_zero(category):
    assert value(category, ["Revoked"], ["Rejected"], time_range=(0, 10)) == 0


def test_durable_filter_is_evaluated_at_completion():
    spanish = ("pair", "Language", "Spanish")
    actions = [
        act("Handling", 0, "Start", iid="i1", user_data={"Language": "English"}),
        act("Handling", 50, "End", iid="i1", dur=50, user_data={"Language": "Spanish"}),
        act("Handling", 60, "Start", iid="i2", user_data={"Language": "Spanish"}),
        act("Handling", 90, "End", iid="i2", dur=30, user_data={"Language": "English"}),
    ]
    assert value("TotalTime", actions=actions, until=100, filter_expr=spanish) == 50
    # ongoing actions are filtered on their current attributes
    assert value("CurrentNumber", actions=actions[:3], until=100, filter_expr=spanish) == 1


def test_filter_on_reason_splits_not_ready_time():
    lunch, brk = {"ReasonCode": "Lunch"}, {"ReasonCode": "Break"}
    actions = [*durable("Blocked", 0, 60, reason=lunch), *durable("Blocked", 60, 100, reason=brk)]
    assert value("TotalTime", ["Blocked"], actions=actions, filter_expr=("pair", "ReasonCode", "Lunch")) == 60


def test_media_restriction_keeps_agent_wide_actions():
    actions = [
        *durable("Handling", 0, 10, iid="e1", media="email"),
        *durable("Handling", 0, 20, iid="c1", media="chat"),
        *durable("DoNotDisturb", 0, 30, media=None),
    ]
    assert value("TotalTime", ["Handling", "DoNotDisturb"], actions=actions, media=["email"]) == 40


def test_queue_waiting_is_durable_per_interaction():
    q = ("Queue", "q1")
    actions = [
        *durable("Waiting", 0, 30, obj=q, iid="i1"),
        *durable("Waiting", 10, obj=q, iid="i2"),
        *durable("Waiting", 40, obj=q, iid="i3"),
        act("InteractionDistributed", 30, obj=q, iid="i1", dur=30),
    ]
    stats = [
        stat("CurrentNumber", ["Waiting"], objects=["Queue"], name="Depth"),
        stat("CurrentMaxTime", ["Waiting"], objects=["Queue"], name="Oldest"),
        stat("AverageTime", ["Waiting"], objects=["Queue"], name="AvgWait"),
    ]
    assert run(stats, actions, 100, "Depth", obj=q) == 2
    assert run(stats, actions, 100, "Oldest", obj=q) == 90
    assert run(stats, actions, 100, "AvgWait", obj=q) == 30


# ----------------------------------------------------------------------------------- status subjects

STATUS_DAY = [
    *durable("Active", 0),
    *durable("Available", 0),
    *durable("Delivering", 50, 60, iid="i1"),
    *durable("HandlingInbound", 60, 120, iid="i1"),
]


def test_status_subject_total_time_counts_the_ongoing_status():
    # Available 0→50 and 120→200 (Delivering and HandlingInbound rank above it in between)
    assert value("TotalTime", ["Available"], actions=STATUS_DAY, until=200, subject="AgentStatus") == 130
    assert value("TotalNumber", ["Available"], actions=STATUS_DAY, until=200, subject="AgentStatus") == 1
    assert value("CurrentNumber", ["Available"], actions=STATUS_DAY, until=200, subject="AgentStatus") == 1
    assert value("TotalTime", ["HandlingInbound"], actions=STATUS_DAY, until=200, subject="DNStatus") == 60
    # DNAction on the same stream: only the completed Available actions (none) count
    assert value("TotalTime", ["Available"], actions=STATUS_DAY, until=200) == 0
