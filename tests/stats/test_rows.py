"""Rows (``pipeline.stats.rows``): the record of a row, and its line written without the record."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records.codec import to_json
from pipeline.replay import StatLineSink, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config, starter_text
from pipeline.stats.engine import StatEngine
from pipeline.stats.notification import record
from pipeline.stats.rows import as_record, encode_row, line_parts

_NAMES = st.sampled_from(["a1", "", "é\u2028", "\x00\"\\", "Default"]) | st.text(max_size=4)
_TIMES = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 … 2100
_VALUES = (st.none() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.booleans()
           | st.just("7"))
_REASON = st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3) | st.floats() | st.integers(),
                                      max_size=2)


def _slot(names: tuple[Any, ...]) -> SimpleNamespace:
    """What a row reads of a compiled statistic (``engine._Slot``)."""
    name, stat_type, category, profile, unit = names
    return SimpleNamespace(name=name, stat_type=stat_type, category=category, profile=profile, unit=unit,
                           line=line_parts(*names))


def _reference(rec: dict[str, Any]) -> bytes:
    return (to_json(rec) + "\n").encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(
    st.tuples(_NAMES | st.integers(), _NAMES, _NAMES, _NAMES, _NAMES),
    st.tuples(_NAMES, _NAMES | st.none(), _NAMES),
    st.none() | _TIMES | st.floats(), st.none() | _TIMES, _TIMES | st.booleans(), _VALUES,
    st.none() | st.fixed_dictionaries({"Status": _NAMES, "Media": st.dictionaries(_NAMES, _NAMES, max_size=2),
                                       "DoNotDisturb": st.booleans(), "Reason": _REASON,
                                       "Since": _TIMES | st.none()}),
    st.sampled_from(["Change", "Timer", "Reset", "Final"]),
)
def test_a_row_is_written_as_the_reference_writes_its_record(
    names: tuple[Any, ...], obj: tuple[Any, ...], start: Any, end: Any, emitted: Any, value: Any,
    state: dict | None, reason: str,
) -> None:
    # An accumulator's names: its own fields, and the tuple the engine shares per object.
    acc = SimpleNamespace(object_type=obj[0], tenant=obj[1], object_id=obj[2],
                          names=("key", obj[0], obj[1], obj[2]))
    row = (_slot(names), acc, start, end, value, state, emitted, reason)
    rec = as_record(row)
    try:
        expected = _reference(rec)
    except (UnicodeEncodeError, ValueError, OverflowError):
        return  # the reference cannot write it either (a lone surrogate…); nothing to compare
    assert encode_row(row) == expected


def test_the_record_of_a_row_is_the_notification_record() -> None:
    """Fields and their order as ``notification.record`` makes them (schemas/StatValue.avsc)."""
    engine = StatEngine(load_config(None))
    slot = engine._slots[0]
    acc = SimpleNamespace(object_type="Agent", tenant="t1", object_id="a1",
                          names=("Agent/t1/a1", "Agent", "t1", "a1"))
    state = {"Status": "Ready", "Media": {}, "DoNotDisturb": False, "Reason": None, "Since": 5}
    rec = as_record((slot, acc, 10, None, 2.5, state, 20, "Timer"))
    expected = record(slot.stat, "Agent", "t1", "a1", 2.5, state, (10, None), 20, "Timer")
    assert list(rec.items()) == list(expected.items())


def test_replay_writes_the_rows_as_the_records_of_its_public_path(tmp_path: Path) -> None:
    """A simulated day with groups: the statistics file replay writes from rows is, byte for byte,
    the reference encoding of the records its dict path gives (every record kind: changes, checks,
    resets, finals, group and tenant fan-out)."""
    sim = Simulator(agents=8, hours=2.0, per_hour=120, seed=11, tenant="t1", start="2026-05-11T23:00:00Z")
    lines = [(n, json.dumps(e).encode()) for n, e in enumerate(sim.events(), start=1)]
    config_file = tmp_path / "stats.yaml"
    config_file.write_text(
        starter_text()
        + "\ngroups:\n  GroupAgents: {Odd: [a001, a003, a005, a007], All: [a001, a002, a003, a004]}\n"
        + "  GroupPlaces: {East: [p001, p002]}\n"
    )
    config = load_config(config_file)
    records: list[dict] = []
    replay(iter(lines), config, on_stat=records.append, wall_ms=None)
    out = tmp_path / "stats.jsonl"
    with out.open("wb") as fh:
        summary = replay(iter(lines), config, on_stat=StatLineSink(fh), wall_ms=None)
    reasons = {r["Reason"] for r in records}
    assert reasons == {"Change", "Reset", "Final"} and summary.stats == len(records) > 5000
    assert {"GroupAgents", "GroupPlaces", "Tenant"} <= {r["ObjectType"] for r in records}
    assert out.read_bytes() == b"".join(_reference(r) for r in records)
