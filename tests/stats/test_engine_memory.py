"""What keeps a large replay's memory bounded: shared empty entries, windows and intervals, shared
ongoing instances, Finals one at a time."""

from __future__ import annotations

import copy
import sys

import pytest

from pipeline.stats.accumulator import NO_ENTRIES, NO_SUMS, Bucket
from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, config, durable, feed, final_value, sliding, stat


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


def _two_profiles() -> StatEngine:
    return StatEngine(config(
        stat("TotalNumber", ["Accepted"], name="Accepted"),
        stat("TotalNumber", ["Rejected"], name="Rejected"),
        stat("TotalNumber", ["Accepted"], name="AcceptedLastHour", profile=sliding(3600, 60)),
        stat("TotalNumber", ["Rejected"], name="RejectedLastHour", profile=sliding(3600, 60)),
    ))


def test_sliding_accumulators_share_an_empty_window_until_their_first_bucket() -> None:
    engine = _two_profiles()
    feed(engine, [act("Accepted", 1), act("Accepted", 2, obj=("Agent", "a2"))])
    rejected = engine._by_name["RejectedLastHour"]
    empty = engine._acc(rejected, "Agent/t1/a1")
    held = engine._by_name["AcceptedLastHour"].accs["Agent/t1/a1"]
    assert empty.buckets is NO_ENTRIES and empty.total is NO_SUMS and empty.oldest is None
    assert copy.deepcopy(empty).total is NO_SUMS
    with pytest.raises(TypeError):
        empty.total.number_main += 1  # a write that every empty window would share is refused
    assert held.total is not NO_SUMS and held.total.number_main == 1 and len(held.buckets) == 1
    assert NO_SUMS == Bucket(0) and Bucket(0) == NO_SUMS
    feed(engine, [act("Rejected", 3)])  # the first bucket: a window and totals of its own
    own = rejected.accs["Agent/t1/a1"]
    assert own.total is not NO_SUMS and own.total.number_main == 1
    assert engine._acc(rejected, "Agent/t1/a2").total is NO_SUMS
    assert NO_SUMS.number_main == 0
    assert final_value(engine, 10, "RejectedLastHour", ("Agent", "a2")) == 0
    assert final_value(engine, 10, "RejectedLastHour") == 1


def test_sliding_buckets_of_one_step_share_its_start() -> None:
    engine = _two_profiles()
    feed(engine, [act("Accepted", 1), act("Accepted", 2, obj=("Agent", "a2"))])
    slot = engine._by_name["AcceptedLastHour"]
    (one,), (two,) = (slot.accs[k].buckets for k in ("Agent/t1/a1", "Agent/t1/a2"))
    assert one == two and one is two  # one int object for the step, not one per bucket


def test_growing_accumulators_share_the_empty_interval_until_their_first_contribution() -> None:
    engine = _two_profiles()
    feed(engine, [act("Accepted", 1), act("Rejected", 2, obj=("Agent", "a2")),
                  act("Accepted", 3, obj=("Agent", "a3"))])
    accepted, rejected = engine._by_name["Accepted"], engine._by_name["Rejected"]
    fresh = engine._acc(rejected, "Agent/t1/a1").bucket
    assert fresh is engine._acc(rejected, "Agent/t1/a3").bucket is not rejected.accs["Agent/t1/a2"].bucket
    assert engine._acc(accepted, "Agent/t1/a2").bucket is not fresh  # one shared interval per statistic
    with pytest.raises(TypeError):
        fresh.number_main = 1
    assert fresh == Bucket(fresh.start, max_current=0, min_current=0) and fresh.number_main == 0
    assert accepted.accs["Agent/t1/a1"].bucket.number_main == 1
    assert rejected.accs["Agent/t1/a2"].bucket.number_main == 1
    assert copy.deepcopy(engine._acc(rejected, "Agent/t1/a1")).bucket is fresh
    restored = _two_profiles()
    restored.import_state(engine.export_state())
    more = [act("Rejected", 5), act("Accepted", 6, obj=("Agent", "a2"))]
    assert feed(restored, copy.deepcopy(more)) == feed(engine, copy.deepcopy(more))
    assert restored.export_state() == engine.export_state()
    assert final_value(engine, 10, "Rejected") == 1
    assert final_value(engine, 10, "Accepted", ("Agent", "a2")) == 1


def test_ongoing_instances_and_their_keys_are_shared_between_accumulators() -> None:
    engine = StatEngine(config(
        stat("CurrentNumber", ["HandlingInbound"], name="InHand", objects=("Agent", "Tenant")),
        stat("TotalTime", ["HandlingInbound"], name="HandleTime", objects=("Agent", "Tenant")),
    ))
    feed(engine, [*durable("HandlingInbound", 2, iid="i1")])
    opens = [slot.accs[suffix].open for slot in engine._slots for suffix in ("Agent/t1/a1", "Tenant/t1/t1")]
    keys = [next(iter(o)) for o in opens]
    assert all(len(o) == 1 for o in opens)
    assert all(k is keys[0] for k in keys) and all(o[keys[0]] is opens[0][keys[0]] for o in opens)
    feed(engine, [act("HandlingInbound", 9, "End", iid="i1", dur=7)])
    assert all(slot.accs["Agent/t1/a1"].open is NO_ENTRIES for slot in engine._slots)  # emptied: shared again
    assert final_value(engine, 10, "HandleTime") == 7


def test_a_buckets_first_duration_is_the_int_given_and_later_ones_add_up() -> None:
    engine = StatEngine(config(stat("TotalTime", ["HandlingInbound"], name="Handled")))
    first, second = durable("HandlingInbound", 2, 5, iid="i1"), durable("HandlingInbound", 6, 13, iid="i2")
    feed(engine, first)
    acc = engine._by_name["Handled"].accs["Agent/t1/a1"]
    given = first[-1]["DurationMs"]
    assert given > 256  # not one of the ints every run shares
    assert acc.bucket.adjusted_main is given  # no int object of its own (0 + dur would make one)
    feed(engine, second)
    assert acc.bucket.adjusted_main == given + second[-1]["DurationMs"] == 10_000
    assert acc.bucket.number_main == 2
