"""Accumulators at rest (``StatEngine._rest``): one that holds nothing but the 0 it sent when its
object was first seen is not held (its key stays in the statistic's ``order``) and is made again
when read. The records, the values and
the exported state are those of an engine that holds every accumulator."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.records.validation import validate_event
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from pipeline.stats.engine import StatEngine
from pipeline.stats.ordered import OrderedStats
from tests.stats.engine_builders import growing


class _Holding(StatEngine):
    """The engine with every accumulator held: what resting must not change."""

    _rests = False


def _quarter_hour_resets(config):
    """The starter statistics with every Growing statistic reset each quarter hour."""
    quarter = growing((0, 15, 30, 45))
    stats = [dataclasses.replace(s, profile=quarter) if s.profile.kind == "Growing" else s
             for s in config.statistics]
    return dataclasses.replace(config, statistics=stats)


def _actions(agents: int, hours: float, seed: int) -> list[dict]:
    sim = Simulator(agents=agents, hours=hours, per_hour=60 * agents, seed=seed)
    events = [validate_event(e) for e in sim.events()]
    return CoreDriver(load_config(None).capacity).push_all(events)


def _at_rest(engine: StatEngine) -> int:
    """Accumulators at rest: in a statistic's ``order``, not held."""
    return sum(len(slot.order) - len(slot.accs) for slot in engine._slots)


def _run(engine: StatEngine, config, actions: list[dict]) -> tuple[list[dict], OrderedStats]:
    stats = OrderedStats(config, engine=engine)
    records = [r for a in actions for r in stats.iter_push(a)]
    records += list(stats.iter_flush())
    return records, stats


@pytest.mark.parametrize("resets", [False, True], ids=["daily", "quarter-hour"])
def test_resting_accumulators_change_no_record_and_no_state(resets: bool) -> None:
    config = load_config(None)
    if resets:
        config = _quarter_hour_resets(config)
    actions = _actions(agents=12, hours=1.0, seed=5)
    resting, held = StatEngine(config), _Holding(config)
    records, _ = _run(resting, config, actions)
    expected, _ = _run(held, config, actions)
    assert records == expected
    end = actions[-1]["EventTime"] + 3_600_000
    assert list(resting.iter_finals(end)) == list(held.iter_finals(end))
    assert resting.export_state() == held.export_state()
    assert 0 < _at_rest(resting) < sum(len(slot.order) for slot in resting._slots)  # some rest, some count
    assert _at_rest(held) == 0


def test_an_accumulator_at_rest_is_held_again_once_it_counts() -> None:
    config = load_config(None)
    actions = _actions(agents=6, hours=0.5, seed=2)
    engine = StatEngine(config)
    _run(engine, config, actions[: len(actions) // 2])
    resting = {(slot.stat.name, suffix) for slot in engine._slots
               for suffix in slot.order if suffix not in slot.accs}
    _run_more = OrderedStats(config, engine=engine)
    for action in actions[len(actions) // 2:]:
        list(_run_more.iter_push(action))
    list(_run_more.iter_flush())
    woken = {(name, suffix) for name, suffix in resting if suffix in engine._by_name[name].accs}
    assert woken  # some of them counted later, and are held from then on
    for name, suffix in woken:
        acc = engine._by_name[name].accs[suffix]
        assert acc.names[0] == suffix and acc.sent


def test_a_restored_engine_rests_what_it_can_and_gives_the_same_records() -> None:
    config = load_config(None)
    actions = _actions(agents=8, hours=1.0, seed=9)
    half = len(actions) // 2
    first = StatEngine(config)
    _run(first, config, actions[:half])
    restored = StatEngine(config)
    restored.import_state(first.export_state())
    # At least as many: one whose window emptied is held live, and at rest once restored.
    assert _at_rest(restored) >= _at_rest(first) > 0
    assert restored.export_state() == first.export_state()
    rest = actions[half:]
    assert _run(restored, config, rest)[0] == _run(first, config, rest)[0]
    assert restored.export_state() == first.export_state()
