"""What keeps a large replay's memory bounded: shared empty entries, Finals one at a time."""

from __future__ import annotations

import copy
import sys

import pytest

from pipeline.stats.accumulator import NO_ENTRIES
from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, config, durable, feed, sliding, stat


def _engine() -> StatEngine:
    return StatEngine(config(
        stat("CurrentNumber", ["HandlingInbound"], name="InHand"),
        stat("TotalNumber", ["Accepted"], name="Accepted"),
        stat("CurrentState", subject="DNStatus", name="State"),
    ))


def test_accumulators_without_entries_share_one_read_only_dict() -> None:
    engine = _engine()
    feed(engine, [act("Accepted", 1), *durable("HandlingInbound", 2, iid="i1")])
    accepted = engine._by_name["Accepted"].accs["Agent/t1/a1"]
    in_hand = engine._by_name["InHand"].accs["Agent/t1/a1"]
    assert accepted.open is NO_ENTRIES and accepted.members is NO_ENTRIES
    assert copy.deepcopy(accepted).open is NO_ENTRIES
    with pytest.raises(TypeError):
        accepted.open["x"] = None  # a write that would be shared by every accumulator is refused
    assert in_hand.open is not NO_ENTRIES and len(in_hand.open) == 1  # its own dict at the first entry
    state = engine._by_name["State"].accs["Agent/t1/a1"]
    assert state.members is not NO_ENTRIES and list(state.members) == ["Agent:a1"]
    assert NO_ENTRIES == {}


def test_shared_entries_survive_an_export_and_import() -> None:
    engine = _engine()
    feed(engine, [act("Accepted", 1), *durable("HandlingInbound", 2, 5, iid="i1")])
    restored = _engine()
    restored.import_state(engine.export_state())
    acc = restored._by_name["InHand"].accs["Agent/t1/a1"]
    assert acc.open is NO_ENTRIES  # the instance ended: nothing open after the restore either
    more = [*durable("HandlingInbound", 6, iid="i2")]
    assert feed(restored, copy.deepcopy(more)) == feed(engine, copy.deepcopy(more))
    assert restored.export_state() == engine.export_state()


def test_finals_one_at_a_time_are_the_finals() -> None:
    actions = [act("Accepted", 1), *durable("HandlingInbound", 2, 30, iid="i1"),
               act("Accepted", 40, obj=("Agent", "a2"))]
    listed, streamed = _engine(), _engine()
    feed(listed, copy.deepcopy(actions))
    feed(streamed, copy.deepcopy(actions))
    expected = listed.finals(3600_000 + actions[-1]["EventTime"])
    got = list(streamed.iter_finals(3600_000 + actions[-1]["EventTime"]))
    assert got == expected
    assert sum(1 for r in got if r["Reason"] == "Final") == 6  # 3 statistics × 2 agents


def test_accumulators_hold_only_the_slots_of_their_plan() -> None:
    engine = StatEngine(config(
        stat("TotalNumber", ["Accepted"], name="Accepted"),
        stat("TotalNumber", ["Accepted"], name="AcceptedLastHour", profile=sliding(3600, 60)),
        stat("MaxNumber", ["HandlingInbound"], name="MostInHand"),
    ))
    feed(engine, [act("Accepted", 1), *durable("HandlingInbound", 2, 5, iid="i1")])
    growing = engine._by_name["Accepted"].accs["Agent/t1/a1"]
    ring = engine._by_name["AcceptedLastHour"].accs["Agent/t1/a1"]
    timeline = engine._by_name["MostInHand"].accs["Agent/t1/a1"]
    with pytest.raises(AttributeError):
        growing.buckets = {}  # no Sliding slot on a Growing accumulator
    with pytest.raises(AttributeError):
        growing.continuous_since = 1  # nor the continuous run of the timeline categories
    assert growing.buckets is None and growing.login is None and growing.continuous_since is None
    assert growing.closed is False and growing.selected_main is None
    assert ring.total.number_main == 1 and ring.buckets
    assert timeline.continuous_lost - timeline.continuous_prev == 3_000  # open from 2 s to 5 s
    assert sys.getsizeof(growing) < sys.getsizeof(ring) < sys.getsizeof(timeline) + 8


def test_accumulators_of_one_object_share_its_key_and_names() -> None:
    engine = _engine()
    feed(engine, [act("Accepted", 1), *durable("HandlingInbound", 2, iid="i1")])
    restored = _engine()
    restored.import_state(engine.export_state())
    for eng in (engine, restored):
        accs = [slot.accs["Agent/t1/a1"] for slot in eng._slots]
        keys = [next(k for k in slot.accs if k == "Agent/t1/a1") for slot in eng._slots]
        assert all(a.object_id is accs[0].object_id and a.tenant is accs[0].tenant for a in accs)
        assert all(k is keys[0] for k in keys)
