"""The worked scenarios of the spec as golden tests: input events → exactly the expected actions."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.records.times import parse_time
from pipeline.records.validation import validate_event
from tests.spec_paths import SCENARIOS as SPEC_SCENARIOS

SCENARIOS = SPEC_SCENARIOS
COMPARED = ("EventTime", "ObjectType", "ObjectID", "Action", "Kind", "Phase", "InteractionID",
            "MediaTypeID", "DurationMs")


def scenario_names() -> list[str]:
    return sorted(p.name.removesuffix(".events.jsonl") for p in SCENARIOS.glob("*.events.jsonl"))


def load_events(name: str) -> list[dict]:
    lines = (SCENARIOS / f"{name}.events.jsonl").read_text().splitlines()
    return [validate_event(json.loads(line)) for line in lines if line.strip()]


def projection(action: dict) -> tuple:
    row = dict(action)
    if isinstance(row["EventTime"], str):
        row["EventTime"] = parse_time(row["EventTime"])
    return tuple(row.get(f) for f in COMPARED)


def test_scenarios_are_present() -> None:
    assert len(scenario_names()) >= 2, f"no scenarios found under {SCENARIOS}"


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_actions(name: str) -> None:
    driver = CoreDriver()
    actions = driver.push_all(load_events(name))
    expected_lines = (SCENARIOS / f"{name}.expected-actions.jsonl").read_text().splitlines()
    expected = Counter(projection(json.loads(line)) for line in expected_lines if line.strip())
    got = Counter(projection(a) for a in actions if a["ObjectType"] != "Place")
    assert got - expected == Counter(), "actions produced that the scenario does not expect"
    assert expected - got == Counter(), "expected actions that were not produced"
    assert not driver.anomalies


@pytest.mark.parametrize("name", scenario_names())
def test_every_agent_action_is_mirrored_once_on_its_place(name: str) -> None:
    events = load_events(name)
    places = {e["AgentID"]: e["PlaceID"] for e in events if e["Event"] == "EventAgentLogin"}
    actions = CoreDriver().push_all(events)
    agent_rows = Counter(
        (projection(a)[0], places[a["ObjectID"]], *projection(a)[3:])
        for a in actions
        if a["ObjectType"] == "Agent"
    )
    place_rows = Counter(
        (projection(a)[0], a["ObjectID"], *projection(a)[3:]) for a in actions if a["ObjectType"] == "Place"
    )
    assert agent_rows == place_rows


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_is_deterministic_with_unique_ids(name: str) -> None:
    first = CoreDriver().push_all(load_events(name))
    second = CoreDriver().push_all(load_events(name))
    assert first == second
    ids = [a["ActionID"] for a in first]
    assert len(ids) == len(set(ids))
