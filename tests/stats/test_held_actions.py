"""What stage 3 holds of one instant's actions before statistics: a watermark can release a whole
instant at once (every agent logging out at the end of a day), and an action that has been applied
is not kept until the last one of them is."""

from __future__ import annotations

import gc
import sys
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


def _records(stats: OrderedStats, actions: list[dict]) -> list[dict]:
    out: list[dict] = []
    for action in actions:
        out += stats.iter_push(action)
    out += stats.iter_release_to(max(a["EventTime"] for a in actions))
    out += stats.iter_finals(max(a["EventTime"] for a in actions) + 1)
    return out


def test_actions_held_past_the_bound_are_bytes_and_give_the_same_records() -> None:
    """Past ``pack_above`` held actions, the next are held as JSON text (a whole instant can be
    held: 148,000 actions at 10,000 agents); the engine sees the same actions, interned as stage
    3 interns decoded ones, so the records are those of actions held as they came."""
    actions = [dict(a) for a in sorted(_actions(), key=lambda a: a["EventTime"])]
    bound = len(actions) // 3
    packed = OrderedStats(load_config(None), pack_above=bound)
    for action in actions:
        assert list(packed.iter_push(action)) == []
    held = [entry[-1][0] for entry in packed.buffer._heap]
    assert sum(h.__class__ is str for h in held) == len(actions) - bound
    assert sum(h.__class__ is dict for h in held) == bound
    plain = _records(OrderedStats(load_config(None), pack_above=len(actions) + 1), actions)
    again = _records(OrderedStats(load_config(None), pack_above=0), actions)
    assert plain and again == plain
    assert _records(OrderedStats(load_config(None), pack_above=bound), actions) == plain


def test_an_action_held_as_text_comes_back_with_shared_strings() -> None:
    from pipeline.stats.ordered import SHARED_FIELDS

    stats = OrderedStats(load_config(None), pack_above=0)
    seen: list[dict] = []
    stats.engine.on_action_rows = lambda action, now: seen.append(action) or []  # type: ignore[method-assign]
    made = [dict(a) for a in sorted(_actions(), key=lambda a: a["EventTime"])][:2]
    for action in made:
        list(stats.iter_push(action))
    list(stats.iter_flush())
    assert seen == made and all(a is not b for a, b in zip(seen, made, strict=True))
    shared = [f for f in SHARED_FIELDS if isinstance(seen[0].get(f), str)]
    assert shared and all(seen[0][f] is sys.intern(seen[0][f]) for f in shared)
