"""``--reorder-window``: stage 2's window of event time, one option for replay and the worker.

The window is what every action waits for input that may still come before it, so it is the floor
of raw event → action latency; a site whose input arrives in order shortens it, one with skewed
bridges lengthens it. What it changes is which input is applied in order and which is late.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.ordering import DEFAULT_WINDOW_MS, MAX_WINDOW_MS, parse_window
from pipeline.records.times import to_iso
from pipeline.replay import replay
from pipeline.stats.config import parse_config
from tests.core.builders import Day

CONFIG = {
    "stat_types": {
        "Ready_Now": {"Objects": ["Agent"], "Category": "CurrentNumber", "MainMask": ["Available"]},
    },
    "statistics": [{"stat_type": "Ready_Now", "time_profile": "Default"}],
}


@pytest.mark.parametrize(
    ("text", "ms"),
    [("2s", 2000), ("500ms", 500), ("0", 0), ("1", 1000), (" 250 ms ", 250), ("10m", MAX_WINDOW_MS),
     ("1.5s", 1500), ("0.25S", 250)],
)
def test_a_window_is_a_duration(text: str, ms: int) -> None:
    assert parse_window(text) == ms


@pytest.mark.parametrize(
    ("text", "says"),
    [("11m", "longer than the most accepted, 10m"), ("-1s", "invalid duration '-1s'"),
     ("off", "invalid duration 'off'"), ("soon", "invalid duration 'soon'"), ("1,5s", "invalid duration")],
)
def test_a_bad_window_is_refused_with_its_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_window(text)


def arrivals() -> tuple[list[dict], list[dict]]:
    """An agent logged in not ready, ready at +0.5 s, not ready again at +1.5 s; another agent logs
    in at +2 s. The ready event arrives last, 1.5 s behind the newest input. Returns (as they
    arrive, in EventTime order)."""
    day = Day()
    login = day.at(0).login("a1", "p1", media={"email": False})
    ready = day.at(0.5).ready("a1", "email")
    not_ready = day.at(1.5).not_ready("a1", "email")
    other = day.at(2).login("a2", "p2", media={"email": True})
    return [login, not_ready, other, ready], [login, ready, not_ready, other]


def run(events: list[dict], window_ms: int) -> tuple[list[dict], list[dict], list[dict]]:
    actions: list[dict] = []
    stats: list[dict] = []
    late: list[dict] = []
    replay(
        enumerate(events), parse_config(CONFIG, "window.yaml"), on_action=actions.append,
        on_stat=stats.append, on_late=late.append, window_ms=window_ms,
    )
    return actions, stats, late


def essentials(actions: list[dict]) -> list[tuple]:
    return [(a["Action"], a["Phase"], a["EventTime"], a.get("MediaTypeID")) for a in actions]


def test_input_out_of_order_within_the_window_is_applied_in_order() -> None:
    arrived, ordered = arrivals()
    actions, stats, late = run(arrived, DEFAULT_WINDOW_MS)
    want_actions, want_stats, _ = run(ordered, DEFAULT_WINDOW_MS)
    assert late == []
    assert essentials(actions) == essentials(want_actions)
    assert [s["Value"] for s in stats] == [s["Value"] for s in want_stats]


def test_a_shorter_window_applies_the_same_input_late_and_says_so() -> None:
    arrived, ordered = arrivals()
    actions, stats, late = run(arrived, 250)
    want_actions, _, _ = run(ordered, 250)
    (record,) = late
    assert record["Reason"] == "reorder-window" and record["AgentID"] == "a1"
    assert record["EventTime"] == Day().ms(0.5) and record["LatenessMs"] > 0
    assert essentials(actions) != essentials(want_actions)  # applied when it came, not in order
    finals = {s["ObjectID"]: s["Value"] for s in stats if s["Reason"] == "Final"}
    assert finals == {"a1": 1, "a2": 1}  # the late Ready came last: a1 ends ready, as applied
    _, ordered_stats, _ = run(ordered, 250)
    assert {s["ObjectID"]: s["Value"] for s in ordered_stats if s["Reason"] == "Final"} == {"a1": 0, "a2": 1}


def test_the_command_takes_the_window(tmp_path: Path, capsys) -> None:
    arrived, _ = arrivals()
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({**e, "EventTime": to_iso(e["EventTime"])}) + "\n" for e in arrived))
    late = {}
    for window in ("2s", "250ms"):
        out = tmp_path / f"late-{window}.jsonl"
        rc = main(["replay", str(events), "--reorder-window", window, "--late-out", str(out), "--quiet"])
        assert rc == 0
        late[window] = [json.loads(line) for line in out.read_text().splitlines()]
    assert late["2s"] == []
    assert [r["Reason"] for r in late["250ms"]] == ["reorder-window"]
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(events), "--reorder-window", "1h"])
    assert exit_info.value.code == 2
    assert "reorder window '1h' is longer than the most accepted, 10m" in capsys.readouterr().err
