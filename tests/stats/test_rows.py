"""Rows (``pipeline.stats.rows``): the record of a row, and its line written without the record."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records.codec import decode, encode, to_json
from pipeline.records.errors import BadRecord
from pipeline.records.keys import stat_record_key
from pipeline.replay import StatLineSink, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config, starter_text
from pipeline.stats.engine import StatEngine
from pipeline.stats.notification import record
from pipeline.stats.rows import as_record, encode_row, line_parts, message_key, single_object

_NAMES = st.sampled_from(["a1", "", "é\u2028", "\x00\"\\", "Default"]) | st.text(max_size=4)
_TIMES = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 … 2100
_VALUES = (st.none() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.booleans()
           | st.just("7"))
_REASON = st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3) | st.floats() | st.integers(),
                                      max_size=2)


class _Slot:
    """What a row reads of a compiled statistic (``engine._Slot``; hashed by identity as it is)."""

    def __init__(self, names: tuple[Any, ...]) -> None:
        self.name, self.stat_type, self.category, self.profile, self.unit = names
        self.line = line_parts(*names)


def _slot(names: tuple[Any, ...]) -> _Slot:
    return _Slot(names)


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


@settings(max_examples=400, deadline=None)
@given(
    st.tuples(_NAMES | st.integers(), _NAMES, _NAMES, _NAMES, _NAMES | st.none()),
    st.tuples(_NAMES, _NAMES | st.none(), _NAMES),
    st.none() | _TIMES | st.floats() | st.integers(min_value=-(2**64), max_value=2**64),
    st.none() | _TIMES | st.integers(max_value=-1), _TIMES | st.booleans() | st.just(2**63), _VALUES,
    st.none() | st.just("Ready") | st.fixed_dictionaries(
        {"Status": _NAMES, "Media": st.dictionaries(_NAMES, _NAMES, max_size=2),
         "DoNotDisturb": st.booleans(), "Reason": _REASON, "Since": _TIMES | st.none()}),
    st.sampled_from(["Change", "Timer", "Reset", "Final"]) | st.none(),
)
def test_a_rows_message_is_the_codecs_encoding_of_its_record(
    names: tuple[Any, ...], obj: tuple[Any, ...], start: Any, end: Any, emitted: Any, value: Any,
    state: Any, reason: Any,
) -> None:
    """The worker's message of a row, byte for byte, and its key: those of its record through
    ``codec.encode`` (fastavro) and ``keys.stat_record_key``; where the codec refuses the record,
    the row's message is refused the same way."""
    acc = SimpleNamespace(object_type=obj[0], tenant=obj[1], object_id=obj[2],
                          names=("key", obj[0], obj[1], obj[2]))
    row = (_slot(names), acc, start, end, value, state, emitted, reason)
    rec = as_record(row)
    try:
        expected = encode("StatValue", rec)
    except BadRecord as refused:
        try:
            single_object(row)
        except BadRecord as also:
            assert (also.kind, str(also)) == (refused.kind, str(refused))
        else:
            raise AssertionError("the row's message was written where its record is refused") from None
        return
    assert single_object(row) == expected
    if all(isinstance(n, str) for n in (names[0], *obj)):
        assert message_key(row) == stat_record_key(rec)


def test_the_messages_of_a_days_rows_are_their_records(tmp_path: Path) -> None:
    """Every row a simulated day with groups makes (changes, checks, resets, finals; agents, places,
    groups, queues, tenant): its message decodes to its record, and is the codec's bytes."""
    sim = Simulator(agents=6, hours=1.5, per_hour=120, seed=5, tenant="t1", start="2026-05-11T23:30:00Z")
    config_file = tmp_path / "stats.yaml"
    config_file.write_text(starter_text() + "\ngroups:\n  GroupAgents: {Odd: [a001, a003, a005]}\n"
                           + "  GroupPlaces: {East: [p001, p002]}\n")
    config = load_config(config_file)
    rows: list[tuple] = []

    class Rows:  # a statistics sink that takes rows, as replay's line writer does
        def __call__(self, rec: dict) -> None:
            raise AssertionError("replay should hand this sink rows")

        def write_batches(self, batches) -> int:
            before = len(rows)
            for batch in batches:
                rows.extend(batch)
            return len(rows) - before

    lines = [(n, json.dumps(e).encode()) for n, e in enumerate(sim.events(), start=1)]
    replay(iter(lines), config, on_stat=Rows(), wall_ms=None)
    assert len(rows) > 2000
    assert {r[7] for r in rows} >= {"Change", "Final"}
    assert any(r[5] is not None for r in rows) and any(r[3] is not None for r in rows)
    for row in rows:
        rec = as_record(row)
        message = single_object(row)
        assert message == encode("StatValue", rec)
        assert decode(message, expected="StatValue")[1] == rec
        assert message_key(row) == stat_record_key(rec)


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
