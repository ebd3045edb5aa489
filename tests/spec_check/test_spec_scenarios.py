"""``make spec-check``: the specification's worked scenarios (``$MEDIASTAT_SPEC_DIR/scenarios``),
checked with the same rules as the repository's own (tests/golden.py).

Opt-in: the everyday suite must pass on a clone with nothing beside it, so these tests carry the
``spec`` marker and run only with ``--spec-check``, which refuses to start without the folder
(tests/conftest.py) — never a silent skip.
"""

from __future__ import annotations

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.replay import iter_source, replay
from pipeline.stats.config import load_config
from tests.golden import (
    assert_actions_match,
    assert_finals_match,
    assert_places_mirror_agents,
    load_events,
    places_of,
    scenario_names,
    with_statistics,
)
from tests.spec_paths import SCENARIOS

pytestmark = pytest.mark.spec

NAMES = scenario_names(SCENARIOS)
WITH_STATS = with_statistics(SCENARIOS)


def test_the_spec_has_scenarios_with_statistics() -> None:
    assert len(NAMES) >= 2 and WITH_STATS, f"no worked scenarios under {SCENARIOS}"


@pytest.mark.parametrize("name", NAMES)
def test_spec_scenario_actions(name: str) -> None:
    driver = CoreDriver()
    actions = driver.push_all(load_events(SCENARIOS, name))
    assert_actions_match(actions, SCENARIOS, name)
    assert not driver.anomalies


@pytest.mark.parametrize("name", NAMES)
def test_spec_scenario_agent_actions_are_mirrored_on_places(name: str) -> None:
    events = load_events(SCENARIOS, name)
    assert_places_mirror_agents(CoreDriver().push_all(events), places_of(events))


@pytest.mark.parametrize("name", WITH_STATS)
def test_spec_scenario_final_statistics(name: str) -> None:
    records: list[dict] = []
    replay(
        iter_source(SCENARIOS / f"{name}.events.jsonl"),
        load_config(SCENARIOS / f"{name}.stats.yaml"),
        on_action=lambda _: None,
        on_stat=records.append,
    )
    assert_finals_match(records, SCENARIOS, name)
