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
from pipeline.stats.ordered import OrderedStats, held, unheld


class _Action(dict):
    """An action record that can be watched with a weak reference (a plain dict cannot)."""


class _Probe:
    """A field value that can be watched with a weak reference: alive while its action is held."""


def _plain_actions() -> list[dict]:
    sim = Simulator(agents=4, hours=1.0, per_hour=60, seed=3)
    events = [validate_event(e) for e in sim.events()]
    return sorted(CoreDriver(load_config(None).capacity).push_all(events), key=lambda a: a["EventTime"])


def test_a_held_action_is_its_values_with_shared_names() -> None:
    actions = _plain_actions()
    entries = [held(a, n) for n, a in enumerate(actions)]
    for n, (entry, action) in enumerate(zip(entries, actions, strict=True)):
        back, tag = unheld(entry)
        assert tag == n
        assert back == action
        assert list(back) == list(action)  # the record's own field order
        assert len(entry) == len(action) + 2  # one tuple: the values, the tag, the shared names
    shapes = {id(entry[-1]) for entry in entries}
    assert len(shapes) == len({tuple(a) for a in actions}) < len(entries)  # one tuple per shape


def test_the_pushed_dict_is_not_kept_and_records_are_those_of_the_dicts() -> None:
    config = load_config(None)
    actions = _plain_actions()
    kept, compact = OrderedStats(config), OrderedStats(config)
    watched = []
    for action in actions:
        copy = _Action(action)
        watched.append(weakref.ref(copy))
        assert list(compact.iter_push(copy)) == []
        del copy
    gc.collect()
    assert all(r() is None for r in watched)  # held as values, not as the dict pushed
    for action in actions:
        assert list(kept.iter_push(action)) == []
    end = actions[-1]["EventTime"]
    assert list(compact.iter_release_to(end)) == list(kept.iter_release_to(end)) != []


def test_a_released_action_is_let_go_once_applied() -> None:
    actions = _plain_actions()
    stats = OrderedStats(load_config(None))
    probes = [_Probe() for _ in actions]
    for action, probe in zip(actions, probes, strict=True):
        assert list(stats.iter_push({**action, "Probe": probe})) == []  # held: no watermark yet
    watched = [weakref.ref(p) for p in probes]
    order = [a["ActionID"] for a in actions]
    end = actions[-1]["EventTime"]
    del actions, action, probes, probe
    records = stats.iter_release_to(end)
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
