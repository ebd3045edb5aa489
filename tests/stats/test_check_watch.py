"""Checks of clock-moved values: looking only at the objects in ``_Slot.watch`` (something open, a
Sliding bucket held) and notifying inline, they send the records of checks that look at every
object through the generic ``_notify``."""

from __future__ import annotations

import json

import pytest

from pipeline.replay import replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config, starter_text
from pipeline.stats.engine import StatEngine
from pipeline.stats.ordered import OrderedStats
from pipeline.stats.rows import Row


class _ScanningEngine(StatEngine):
    """The engine whose checks look at every object (the index forgotten before each clock move)
    and notify through the generic ``_notify`` (not the checks' own inlined copy of it)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self._checks_inline = False

    def advance_rows(self, now_ms: int) -> list[Row]:
        for slot in self._slots:
            if slot.watched:
                slot.watch = None
        return super().advance_rows(now_ms)


@pytest.mark.parametrize(  # two more days with `pytest -m soak`
    "seed", [3, pytest.param(17, marks=pytest.mark.soak), pytest.param(29, marks=pytest.mark.soak)]
)
def test_checks_of_the_watched_objects_alone_send_the_records_of_checks_of_every_object(
    tmp_path, seed: int
) -> None:
    sim = Simulator(agents=7, hours=3.0, per_hour=150, seed=seed, tenant="t1", start="2026-05-11T22:30:00Z")
    config_file = tmp_path / "stats.yaml"
    config_file.write_text(starter_text() + "\ngroups:\n  GroupAgents: {Odd: [a001, a003, a005, a007]}\n"
                           + "  GroupPlaces: {East: [p001, p002]}\n")
    config = load_config(config_file)
    actions: list[dict] = []
    lines = [(n, json.dumps(e).encode()) for n, e in enumerate(sim.events(), start=1)]
    replay(iter(lines), config, on_action=actions.append, wall_ms=None)
    indexed, scanning = OrderedStats(config), OrderedStats(config, engine=_ScanningEngine(config))
    got, expected = [], []
    half = len(actions) // 2
    for n, action in enumerate(actions):
        got += indexed.push(action)[1]
        expected += scanning.push(action)[1]
        if n == half:  # a restore: the index is unknown until the next check finds it again
            got += indexed.flush()[1]
            expected += scanning.flush()[1]
            indexed.engine.import_state(indexed.engine.export_state())
    got += indexed.flush()[1] + indexed.finals(indexed.engine.clock)
    expected += scanning.flush()[1] + scanning.finals(scanning.engine.clock)
    checked = [r for r in expected if r["Statistic"].startswith("Time_In_Status") and r["Value"]]
    assert len(checked) > 200  # the clock-moved values were looked at, many times
    left = [r for r in expected if r["Statistic"] == "Handled_Last_Hour" and r["EmittedAt"] % 60_000 == 0]
    assert len(left) > 5  # and the values of windows that completions left
    assert got == expected
