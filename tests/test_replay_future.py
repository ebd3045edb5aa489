"""Replay with events stamped far ahead (a bridge whose clock is wrong): the rest of the file is
processed as if they were not there, they are dead-lettered ``future-time``, and even with the rule
off the output stays O(objects) (the statistics engine jumps over the empty intervals)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.records.times import parse_time, to_iso
from pipeline.replay import replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
AHEAD = {"1-year": YEAR_MS, "100-years": 100 * YEAR_MS}
START = "2026-03-02T09:00:00Z"
#: The wall clock of these replays: the evening of the simulated day (the file is in the past).
WALL_MS = parse_time("2026-03-02T18:00:00Z")


def simulated_lines() -> list[str]:
    """Three quarters of an hour of a small contact centre, in time order (JSON Lines)."""
    sim = Simulator(agents=4, hours=0.75, per_hour=80, seed=7, tenant="t1", start=START)
    events = sorted(sim.events(), key=lambda e: parse_time(e["EventTime"]))
    return [json.dumps(e) for e in events]


def shifted(line: str, ahead_ms: int) -> str:
    """The same event, stamped ``ahead_ms`` later (a bridge clock that is wrong by that much)."""
    event = json.loads(line)
    event["EventTime"] = to_iso(parse_time(event["EventTime"]) + ahead_ms)
    return json.dumps(event)


def with_future_events(lines: list[str], ahead_ms: int) -> list[str]:
    """Two events of the stream repeated far ahead, one a third and one two thirds of the way in:
    an interaction event (a new interaction) and an agent event."""
    submitted = next(i for i, line in enumerate(lines) if "EventInteractionSubmitted" in line)
    agent = next(i for i, line in enumerate(lines) if '"EventAgentLogin"' in line)
    first = json.loads(lines[submitted])
    first["InteractionID"] = "from-the-future"
    bad_interaction = shifted(json.dumps(first), ahead_ms)
    bad_agent = shifted(lines[agent], ahead_ms)
    third = len(lines) // 3
    return lines[:third] + [bad_interaction] + lines[third: 2 * third] + [bad_agent] + lines[2 * third:]


def run(
    lines: list[str], *, stats_too: bool = True, **kw
) -> tuple[list[dict], list[dict], list[dict], object]:
    """Replay ``lines`` with the shipped starter statistics (Growing, Sliding, status, ratios), run
    at :data:`WALL_MS` unless ``wall_ms`` says otherwise."""
    kw.setdefault("wall_ms", WALL_MS)
    actions: list[dict] = []
    stats: list[dict] = []
    letters: list[dict] = []
    source = ((n, line.encode()) for n, line in enumerate(lines, start=1))
    summary = replay(
        source, load_config(None), on_action=actions.append, on_stat=stats.append if stats_too else None,
        on_dead_letter=letters.append, **kw,
    )
    return actions, stats, letters, summary


def canonical(records: list[dict]) -> Counter:
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in records)


@pytest.fixture(scope="module")
def clean() -> tuple[list[dict], list[dict]]:
    actions, stats, letters, _ = run(simulated_lines())
    assert not letters and len(actions) > 100 and len(stats) > 500
    return actions, stats


@pytest.mark.parametrize("ahead", AHEAD.values(), ids=AHEAD.keys())
def test_events_far_ahead_are_dead_lettered_and_the_rest_is_replayed_as_without_them(clean, ahead):
    actions, stats, letters, summary = run(with_future_events(simulated_lines(), ahead))
    assert [r["ErrorKind"] for r in letters] == ["future-time", "future-time"]
    assert "ahead of the wall clock" in letters[0]["Reason"]
    assert summary.dead_letter_kinds == Counter({"future-time": 2})
    assert canonical(actions) == canonical(clean[0])
    assert canonical(stats) == canonical(clean[1])


def test_the_limit_is_the_tolerance_ahead_of_the_wall_clock():
    lines = simulated_lines()
    last = lines[-1]
    at = parse_time(json.loads(last)["EventTime"])
    to_wall = WALL_MS - at
    hour = 3_600_000
    tail = [shifted(last, to_wall + DAY_MS), shifted(last, to_wall + DAY_MS + 1)]
    _, _, letters, _ = run(lines + tail, stats_too=False)
    assert [r["SourceOffset"] - len(lines) for r in letters] == [2]  # exactly one day ahead is accepted
    two_hours_ahead = shifted(last, to_wall + 2 * hour)
    _, _, letters, _ = run(lines + [two_hours_ahead], future_tolerance_ms=hour, stats_too=False)
    assert [r["ErrorKind"] for r in letters] == ["future-time"]
    _, _, letters, _ = run(lines + [shifted(last, 100 * YEAR_MS)], future_tolerance_ms=None, stats_too=False)
    assert letters == []
    _, _, letters, _ = run(lines + [shifted(last, 100 * YEAR_MS)], wall_ms=None, stats_too=False)
    assert letters == []  # no wall clock given (the library call): no rule


def test_a_quiet_weekend_in_the_file_loses_nothing():
    """Events three days after the previous ones are in the past of the wall clock: all accepted."""
    lines = simulated_lines()
    monday = [shifted(line, 3 * DAY_MS) for line in lines]
    _, _, letters, summary = run(lines + monday, stats_too=False, wall_ms=WALL_MS + 4 * DAY_MS)
    assert letters == [] and summary.dead_letters == 0


@pytest.mark.parametrize("ahead", AHEAD.values(), ids=AHEAD.keys())
def test_with_the_rule_off_the_statistics_stay_linear_in_objects(clean, ahead):
    """Accepted far-ahead events cost O(objects) statistic records, not one per skipped day."""
    actions, stats, letters, _ = run(with_future_events(simulated_lines(), ahead), future_tolerance_ms=None)
    assert letters == []
    accumulators = len({(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"]) for r in stats})
    assert len(stats) <= len(clean[1]) + 4 * accumulators


def test_the_command_takes_a_tolerance_and_judges_against_the_wall_clock(tmp_path: Path):
    lines = simulated_lines()
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([shifted(lines[0], 7000 * YEAR_MS), *lines]) + "\n")
    bad = tmp_path / "bad.jsonl"
    rc = main(["replay", str(events), "--dead-letters-out", str(bad), "--future-tolerance", "36h", "--quiet"])
    assert rc == 0
    letters = [json.loads(line) for line in bad.read_text().splitlines()]
    assert [(r["ErrorKind"], r["SourceOffset"]) for r in letters] == [("future-time", 1)]
    assert "tolerance 1.5d" in letters[0]["Reason"]


def test_a_bad_tolerance_is_a_usage_error(tmp_path: Path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(simulated_lines()) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(events), "--future-tolerance", "soon"])
    assert exit_info.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err

