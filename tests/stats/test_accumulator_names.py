"""An accumulator holds its object's names as one tuple shared by every accumulator of the object
(key, type, tenant, id), read through ``object_type`` / ``tenant`` / ``object_id`` / ``suffix``."""

from __future__ import annotations

import sys

from pipeline.stats import accumulator as acc_ops
from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, config, durable, feed, sliding, stat


def _engine() -> StatEngine:
    return StatEngine(config(
        stat("CurrentNumber", ["HandlingInbound"], name="InHand"),
        stat("TotalNumber", ["Accepted"], name="Accepted"),
        stat("TotalNumber", ["Accepted"], name="AcceptedLastHour", profile=sliding(3600, 60)),
    ))


def test_accumulators_of_one_object_hold_one_names_tuple() -> None:
    engine = _engine()
    feed(engine, [act("Accepted", 1), *durable("HandlingInbound", 2, iid="i1")])
    restored = _engine()
    restored.import_state(engine.export_state())
    for eng in (engine, restored):
        accs = [slot.accs["Agent/t1/a1"] for slot in eng._slots]
        assert all(a.names is accs[0].names for a in accs)
        assert accs[0].names == ("Agent/t1/a1", "Agent", "t1", "a1")
        acc = accs[0]
        assert (acc.suffix, acc.object_type, acc.tenant, acc.object_id) == acc.names
    assert "object_type" not in acc_ops.Accumulator.__slots__ and "names" in acc_ops.Accumulator.__slots__
    # eleven slots and the headers: 128 bytes a Growing accumulator (144 with three names)
    assert sys.getsizeof(engine._slots[1].accs["Agent/t1/a1"]) <= 32 + 11 * 8


def test_setting_a_name_keeps_the_key_in_step() -> None:
    plan = acc_ops.compile_plan(stat("TotalNumber", ["Accepted"], objects=["GroupAgents"]))
    acc = acc_ops.new_accumulator(plan, "GroupAgents", "t1", "g1", 0, 0)
    assert acc.suffix == "GroupAgents/t1/g1"
    acc.object_type, acc.tenant, acc.object_id = "Agent", "t2", "a9"
    assert acc.names == ("Agent/t2/a9", "Agent", "t2", "a9")
    assert acc_ops.Accumulator.from_json(plan, acc.to_json(plan)) == acc
