"""The value an accumulator keeps as last sent: a positive zero is one shared float, anything else
is kept as computed (the record sent carries the computed value either way)."""

from __future__ import annotations

import math

from pipeline.stats.accumulator import ZERO, kept_value
from pipeline.stats.engine import StatEngine
from tests.stats.engine_builders import act, config, feed, stat


def test_a_positive_zero_is_the_shared_zero_and_nothing_else_is() -> None:
    computed = float("1.5") - 1.5
    assert computed == 0.0 and computed is not ZERO
    assert kept_value(computed) is ZERO
    negative = -computed
    assert kept_value(negative) is negative and math.copysign(1.0, kept_value(negative)) == -1.0
    assert kept_value(0) == 0 and kept_value(0).__class__ is int  # an int stays an int
    assert kept_value(None) is None
    value = float("2.5")
    assert kept_value(value) is value


def test_accumulators_that_last_sent_zero_share_it() -> None:
    engine = StatEngine(config(stat("TotalNumber", ["Accepted"], name="Accepted"),
                               stat("TotalNumber", ["Rejected"], name="Rejected")))
    records = feed(engine, [act("Accepted", 1), act("Accepted", 2, obj=("Agent", "a2"))])
    zeros = [r for r in records if r["Statistic"] == "Rejected"]
    assert len(zeros) == 2 and all(r["Value"] == 0.0 for r in zeros)
    slot = engine._by_name["Rejected"]
    kept = [engine._acc(slot, suffix).sent_value for suffix in slot.order]
    assert len(kept) == 2 and all(v is ZERO for v in kept)
    assert [acc.sent_value for acc in engine._by_name["Accepted"].accs.values()] == [1.0, 1.0]
