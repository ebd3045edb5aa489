"""An object's statistic records do not depend on other objects' actions moving the clock.

The engine's clock moves with every action it applies. Checks of clock-moved values (Changes mode)
and Time-mode timers are evaluated at their instant on the time grid, so an agent's records are the
same whether the engine also applies other agents' actions (replay: one engine for everything) or
only this agent's, with its clock moved to the same end (a partition of a partitioned pipeline).
"""

from __future__ import annotations

import random

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.records.keys import action_key
from pipeline.records.validation import validate_event
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from pipeline.stats.engine import StatEngine

OWN_TYPES = {"Agent", "Place", "Queue"}


def _actions(seed: int) -> list[dict]:
    sim = Simulator(agents=6, hours=0.5, per_hour=240, seed=seed, tenant="t1")
    driver = CoreDriver()
    actions = driver.push_all(validate_event(e) for e in sim.events())
    actions.sort(key=lambda a: a["EventTime"])  # stage 3 applies them in event-time order
    # cut mid-shift: agents still logged in and busy, so values move with the clock at the end
    cut = actions[0]["EventTime"] + 20 * 60_000
    return [a for a in actions if a["EventTime"] < cut]


def _latest(engine: StatEngine, actions: list[dict], end: int, stops: list[int]) -> dict[tuple, dict]:
    """Apply ``actions`` (advancing the clock to each one and to every time in ``stops``); the last
    non-Final record per (statistic, object)."""
    latest: dict[tuple, dict] = {}

    def keep(records: list[dict]) -> None:
        for r in records:
            latest[(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"])] = r

    pending = sorted(stops)
    for action in actions:
        while pending and pending[0] < action["EventTime"]:
            keep(engine.advance(pending.pop(0)))
        keep(engine.advance(action["EventTime"]))
        keep(engine.on_action(action, action["EventTime"]))
    for t in pending:
        keep(engine.advance(t))
    keep(engine.advance(end))
    return latest


@pytest.mark.parametrize("seed", [3, 11])
def test_an_objects_records_do_not_depend_on_other_objects_actions(seed: int) -> None:
    config = load_config(None)
    actions = _actions(seed)
    end = actions[-1]["EventTime"]
    whole = _latest(StatEngine(config), actions, end, [])
    keys = sorted({action_key(a) for a in actions})
    rng = random.Random(seed)
    mine = set(rng.sample(keys, max(1, len(keys) // 4)))
    part = [a for a in actions if action_key(a) in mine]
    # the partition's clock also moves at a few instants of its own (its watermarks)
    stops = sorted(rng.randrange(actions[0]["EventTime"], end) for _ in range(20))
    alone = _latest(StatEngine(config), part, end, stops)
    own = {k: v for k, v in alone.items() if k[1] in OWN_TYPES}
    assert len(own) > 50
    moving = [k for k, v in own.items() if k[0].startswith("Time_In_Status") and v["Value"]]
    assert moving, "nothing moved with the clock at the end: the test would prove nothing"
    differ = {k: (v["Value"], whole[k]["Value"]) for k, v in own.items() if v != whole.get(k)}
    assert not differ, list(differ.items())[:5]


def test_a_check_is_evaluated_at_its_instant_not_at_the_clock_that_crossed_it() -> None:
    """a1 handles from T0+1 s; the 10 s check is crossed by a2's action at 15 s (one engine for
    both) or by the end of the input at 17 s (an engine of a1 alone): both send 9 s at T0+10 s."""
    from tests.stats.engine_builders import at, config, durable, stat

    handling = stat("CurrentTime", ["HandlingInbound"], name="Busy", objects=("Agent",))
    a1 = durable("HandlingInbound", 1, None, iid="i1")
    a2 = durable("HandlingInbound", 15, None, iid="i2", obj=("Agent", "a2"))
    whole = _latest(StatEngine(config(handling)), [*a1, *a2], at(15), [])
    alone = _latest(StatEngine(config(handling)), a1, at(17), [])
    key = ("Busy", "Agent", "t1", "a1")
    assert (whole[key]["Value"], whole[key]["EmittedAt"]) == (9.0, at(10))
    assert alone[key] == whole[key]
