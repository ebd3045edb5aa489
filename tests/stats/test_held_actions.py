"""What stage 3 holds of one instant's actions before statistics: a watermark can release a whole
instant at once (every agent logging out at the end of a day), and an action that has been applied
is not kept until the last one of them is."""

from __future__ import annotations

import gc
import weakref

from pipeline.core.driver import CoreDriver
from pipeline.records.validation import validate_event
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from pipeline.stats.ordered import OrderedStats


class _Action(dict):
    """An action record that can be watched with a weak reference (a plain dict cannot)."""


def _actions() -> list[_Action]:
    sim = Simulator(agents=4, hours=1.0, per_hour=60, seed=3)
    events = [validate_event(e) for e in sim.events()]
    return [_Action(a) for a in CoreDriver(load_config(None).capacity).push_all(events)]


def test_a_released_action_is_let_go_once_applied() -> None:
    actions = sorted(_actions(), key=lambda a: a["EventTime"])
    stats = OrderedStats(load_config(None))
    for action in actions:
        assert list(stats.iter_push(action)) == []  # held: no watermark yet
    watched = [weakref.ref(a) for a in actions]
    order = [a["ActionID"] for a in actions]
    del actions, action
    records = stats.iter_release_to(max(r()["EventTime"] for r in watched))
    half = len(watched) // 2
    for _ in records:
        if len(stats.applied_ids) >= half:
            break
    gc.collect()
    applied = set(stats.applied_ids)
    gone = [r() is None for r in watched]
    assert applied and len(applied) < len(watched)
    # Every action applied so far but the one being applied is gone; every other one is still held.
    assert sum(gone) >= len(applied) - 1
    assert not any(g for g, action_id in zip(gone, order, strict=True) if action_id not in applied)
    assert sum(1 for _ in records) > 0  # the rest is applied as it is read
    gc.collect()
    assert all(r() is None for r in watched)
