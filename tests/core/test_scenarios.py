"""The repository's golden scenarios (tests/scenarios): input events → exactly the expected actions."""

from __future__ import annotations

import pytest

from pipeline.core.driver import CoreDriver
from tests.golden import (
    OWN,
    assert_actions_match,
    assert_places_mirror_agents,
    load_events,
    places_of,
    scenario_names,
)
from tests.hashseed import OtherInterpreter

NAMES = scenario_names(OWN)


def test_the_scenarios_are_there() -> None:
    assert NAMES == ["chat-offers-and-readiness", "conference-then-transfer", "routed-emails"]


@pytest.mark.parametrize("name", NAMES)
def test_scenario_actions(name: str) -> None:
    driver = CoreDriver()
    actions = driver.push_all(load_events(OWN, name))
    assert_actions_match(actions, OWN, name)
    assert not driver.anomalies


@pytest.mark.parametrize("name", NAMES)
def test_every_agent_action_is_mirrored_once_on_its_place(name: str) -> None:
    events = load_events(OWN, name)
    assert_places_mirror_agents(CoreDriver().push_all(events), places_of(events))


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_deterministic_across_hash_seeds_with_unique_ids(
    name: str, other_interpreter: OtherInterpreter
) -> None:
    events = load_events(OWN, name)
    other_interpreter.assert_same_as_here("tests.determinism:core_actions", events)
    ids = [a["ActionID"] for a in CoreDriver().push_all(events)]
    assert len(ids) == len(set(ids))
