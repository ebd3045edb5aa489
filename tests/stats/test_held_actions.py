"""What stage 3 holds of one instant's actions before statistics: a watermark can release a whole
instant at once (every agent logging out at the end of a day). Stage 3 holds each action as its
values (``ordered.held``), not as the dict pushed, and an action that has been applied is not kept
until the last one of them is."""

from __future__ import annotations

import gc
import weakref

import pytest

from pipeline.core.driver import CoreDriver
from pipeline.core.ordering import action_rank
from pipeline.records.validation import validate_event
from pipeline.simulate import Simulator
from pipeline.stats import ordered
from pipeline.stats.config import load_config
from pipeline.stats.engine import StatEngine
from pipeline.stats.ordered import OrderedStats, applied, held


class _Action(dict):
    """An action record that can be watched with a weak reference (a plain dict cannot)."""


def _actions() -> list[_Action]:
    sim = Simulator(agents=4, hours=1.0, per_hour=60, seed=3)
    events = [validate_event(e) for e in sim.events()]
    return [_Action(a) for a in CoreDriver(load_config(None).capacity).push_all(events)]


class _Watcher:
    """``ordered.applied``, whose actions made again can be watched."""

    def __init__(self) -> None:
        self.made: list[weakref.ref] = []

    def __call__(self, kept: tuple) -> _Action:
        action = _Action(applied(kept))
        self.made.append(weakref.ref(action))
        return action


def test_stage_three_holds_no_pushed_action_until_its_watermark() -> None:
    actions = sorted(_actions(), key=lambda a: a["EventTime"])
    stats = OrderedStats(load_config(None))
    watched = [weakref.ref(a) for a in actions]
    for action in actions:
        assert list(stats.iter_push(action)) == []  # held: no watermark yet
    last = actions[-1]["EventTime"]
    del actions, action
    gc.collect()
    assert len(stats.buffer) == len(watched)
    assert all(r() is None for r in watched)  # held as their values, not as the dicts pushed
    assert list(stats.iter_release_to(last))  # and applied from them


def test_holding_actions_as_values_changes_no_record() -> None:
    actions = sorted(_actions(), key=lambda a: a["EventTime"])
    stats = OrderedStats(load_config(None))
    records = [r for a in actions for r in stats.iter_push(a)]
    records += list(stats.iter_flush())
    engine = StatEngine(load_config(None))
    ranked = sorted(enumerate(actions, 1), key=lambda p: (p[1]["EventTime"], action_rank(p[1], p[0])))
    expected = [r for _, a in ranked for r in engine.on_action(a, a["EventTime"])]
    assert records == expected and len(records) > 100


def test_a_released_action_is_let_go_once_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    watcher = _Watcher()
    monkeypatch.setattr(ordered, "applied", watcher)
    actions = sorted(_actions(), key=lambda a: a["EventTime"])
    stats = OrderedStats(load_config(None))
    for action in actions:
        assert list(stats.iter_push(action)) == []  # held: no watermark yet
    total, last = len(actions), actions[-1]["EventTime"]
    del actions, action
    records = stats.iter_release_to(last)
    half = total // 2
    for _ in records:
        if len(stats.applied_ids) >= half:
            break
    gc.collect()
    done = len(stats.applied_ids)
    assert 0 < done < total
    # Made again only as applied, one at a time: every one applied so far but the current one is gone.
    assert done <= len(watcher.made) <= done + 1
    assert sum(r() is None for r in watcher.made) >= done - 1
    assert sum(1 for _ in records) > 0  # the rest is applied as it is read
    gc.collect()
    assert len(watcher.made) == total and all(r() is None for r in watcher.made)


def test_held_actions_share_their_keys_and_come_back_equal() -> None:
    actions = _actions()
    kept = [held(dict(a)) for a in actions]
    assert [applied(k) for k in kept] == actions
    assert [list(applied(k)) for k in kept] == [list(a) for a in actions]  # the same key order
    shapes = {id(k[0]) for k in kept}
    assert len(shapes) == len({tuple(a) for a in actions}) < len(actions) / 10
