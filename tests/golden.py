"""Golden scenarios: reading them and comparing a run with them.

A scenario folder holds, per scenario ``NAME``: ``NAME.events.jsonl`` (normalised events),
``NAME.expected-actions.jsonl`` (the actions on Agent and Queue objects, compared on
:data:`COMPARED`, and on ``Reason`` where a row gives one; every Agent action is also expected once
on its Place) and optionally
``NAME.stats.yaml`` with ``NAME.expected-stats.jsonl`` (Final values at the last event). The same
functions check the repository's own scenarios (``tests/scenarios``, always) and the
specification's worked examples (``make spec-check``), so both are held to one rule.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.records.times import parse_time
from pipeline.records.validation import validate_event

#: The repository's own scenarios (written for this project; see tests/scenarios/README.md).
OWN = Path(__file__).resolve().parent / "scenarios"

COMPARED = ("EventTime", "ObjectType", "ObjectID", "Action", "Kind", "Phase", "InteractionID",
            "MediaTypeID", "DurationMs")


def scenario(name: str) -> Path:
    """A file of the repository's own scenarios (``tests/scenarios``)."""
    return OWN / name


def scenario_names(folder: Path) -> list[str]:
    """Every scenario of ``folder`` (named by its events file)."""
    return sorted(p.name.removesuffix(".events.jsonl") for p in folder.glob("*.events.jsonl"))


def with_statistics(folder: Path) -> list[str]:
    """The scenarios of ``folder`` that also give statistics and their expected Final values."""
    return [n for n in scenario_names(folder) if (folder / f"{n}.expected-stats.jsonl").is_file()]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_events(folder: Path, name: str) -> list[dict]:
    """The scenario's events, validated (times as epoch ms)."""
    return [validate_event(e) for e in read_jsonl(folder / f"{name}.events.jsonl")]


def projection(action: dict) -> tuple:
    """The compared fields of an action record (EventTime as epoch ms whatever its form)."""
    row = dict(action)
    if isinstance(row["EventTime"], str):
        row["EventTime"] = parse_time(row["EventTime"])
    return tuple(row.get(f) for f in COMPARED)


def expected_actions(folder: Path, name: str) -> Counter:
    return Counter(projection(a) for a in read_jsonl(folder / f"{name}.expected-actions.jsonl"))


def with_reason(action: dict) -> tuple:
    return (*projection(action), json.dumps(action.get("Reason"), sort_keys=True))


def assert_actions_match(actions: list[dict], folder: Path, name: str) -> None:
    """Agent and Queue actions equal the expected file (as multisets: equal times come in any order);
    rows that give a ``Reason`` must also match the reason of an action produced."""
    expected = expected_actions(folder, name)
    mine = [a for a in actions if a["ObjectType"] != "Place"]
    got = Counter(projection(a) for a in mine)
    assert got - expected == Counter(), "actions produced that the scenario does not expect"
    assert expected - got == Counter(), "expected actions that were not produced"
    rows = read_jsonl(folder / f"{name}.expected-actions.jsonl")
    reasons = Counter(with_reason(r) for r in rows if "Reason" in r)
    assert reasons - Counter(with_reason(a) for a in mine) == Counter(), "actions with another Reason"


def assert_places_mirror_agents(actions: list[dict], places: dict[str, str]) -> None:
    """Every Agent action appears exactly once on the agent's Place, and nothing else is on a Place."""
    agent_rows = Counter(
        (projection(a)[0], places[a["ObjectID"]], *projection(a)[3:])
        for a in actions
        if a["ObjectType"] == "Agent"
    )
    place_rows = Counter(
        (projection(a)[0], a["ObjectID"], *projection(a)[3:]) for a in actions if a["ObjectType"] == "Place"
    )
    assert agent_rows == place_rows


def places_of(events: list[dict]) -> dict[str, str]:
    return {e["AgentID"]: e["PlaceID"] for e in events if e["Event"] == "EventAgentLogin"}


def last_event_time(folder: Path, name: str) -> int:
    return max(e["EventTime"] for e in load_events(folder, name))


def assert_finals_match(records: list[dict], folder: Path, name: str) -> None:
    """The Final records equal the expected file: one per expected row and no other; ``Value``
    within 0.01, ``State.Status`` for CurrentState, ``IntervalStart`` where the row gives it."""
    finals = {(r["Statistic"], r["ObjectType"], r["ObjectID"]): r for r in records if r["Reason"] == "Final"}
    expected = read_jsonl(folder / f"{name}.expected-stats.jsonl")
    keys = [(w["Statistic"], w["ObjectType"], w["ObjectID"]) for w in expected]
    assert sorted(finals) == sorted(keys), "Final records for other statistics or objects than expected"
    for want, key in zip(expected, keys, strict=True):
        got = finals[key]
        if want.get("State") is not None:
            assert got["Value"] is None, key
            assert got["State"]["Status"] == want["State"]["Status"], key
        else:
            assert got["Value"] == pytest.approx(want["Value"], abs=0.01), key
        if "IntervalStart" in want:
            start = got["IntervalStart"]
            start = start if isinstance(start, int) else parse_time(start)
            assert start == parse_time(want["IntervalStart"]), key
