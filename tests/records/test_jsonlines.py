"""The fast JSON Lines encoder writes exactly the bytes of the reference ``codec.to_json``."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records.codec import to_json
from pipeline.records.jsonlines import encode_line, encode_stat_line

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_NESTED = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_TIMES = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 … 2100


def _reference(record: dict[str, Any]) -> bytes:
    return (to_json(record) + "\n").encode("utf-8")


def test_a_statistic_record_is_written_as_the_reference_writes_it() -> None:
    record = {
        "Statistic": "Handled", "StatType": "Handled", "Category": "TotalNumber", "ObjectType": "Agent",
        "ObjectID": "a1", "TenantID": "t1", "TimeProfile": "Default", "IntervalStart": 1772409600000,
        "IntervalEnd": None, "Value": 1.0, "State": None, "Unit": "count", "EmittedAt": 1772443800000,
        "Reason": "Final",
    }
    line = encode_line(record)
    assert line == _reference(record)
    assert b'"IntervalStart":"2026-03-02T00:00:00.000Z"' in line and line.endswith(b"\n")


def test_a_current_state_has_its_since_as_an_iso_time() -> None:
    record = {"Statistic": "S", "State": {"Status": "Ready", "Media": {"email": "Available"},
                                          "Since": 1772443800123, "Reason": None}, "EmittedAt": 5}
    assert encode_line(record) == _reference(record)
    assert record["State"]["Since"] == 1772443800123  # the caller's record is not changed


def test_floats_orjson_writes_differently_are_written_by_the_reference() -> None:
    for value in (5e-05, 1e-07, 1e16, 1.5e22, float("nan"), float("inf"), -2.5e-10):
        record = {"Statistic": "S", "Value": value, "UserData": {"x": [value]}}
        assert encode_line(record) == _reference(record), value


def test_bytes_big_integers_and_odd_keys_fall_back_to_the_reference() -> None:
    for record in (
        {"Payload": b"\xff\x00raw", "Time": 7},
        {"UserData": {"n": 2**70}},
        {"UserData": {1: "non-string key"}},
        {"UserData": {"s": "caf\u00e9 \u2028 \x00 \x1f \"q\" \\"}},
        {"EventTime": True, "StartTime": 0},
    ):
        assert encode_line(record) == _reference(record), record


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["Value", "UserData", "Reason", "ObjectID", "Statistic", "Other"]), _NESTED,
        max_size=6,
    ),
    st.dictionaries(st.sampled_from(["EventTime", "StartTime", "IntervalStart", "IntervalEnd", "EmittedAt"]),
                    st.none() | _TIMES, max_size=5),
    st.none() | _TIMES,
)
def test_any_record_is_written_as_the_reference_writes_it(
    fields: dict[str, Any], times: dict[str, Any], since: int | None
) -> None:
    record = {**fields, **times}
    if since is not None:
        record["State"] = {"Status": "Ready", "Since": since}
    try:
        expected = _reference(record)
    except (UnicodeEncodeError, ValueError, OverflowError):
        return  # the reference cannot write it either (a lone surrogate…); nothing to compare
    assert encode_line(record) == expected


# ---- statistic records: the writer for their known layout (``encode_stat_line``)

_STAT_RECORD = {
    "Statistic": "Handled", "StatType": "Handled", "Category": "TotalNumber", "ObjectType": "Agent",
    "ObjectID": "a1", "TenantID": "t1", "TimeProfile": "Default", "IntervalStart": 1772409600000,
    "IntervalEnd": None, "Value": 1.0, "State": None, "Unit": "count", "EmittedAt": 1772443800000,
    "Reason": "Final",
}


def test_a_statistic_record_is_written_by_its_own_writer_as_the_reference_writes_it() -> None:
    states = (None, {"Status": "Ready", "Media": {"email": "Available"}, "DoNotDisturb": False,
                     "Reason": None, "Since": 1772443800123})
    for value in (1.0, 0.0, -0.0, 12.5, 3, None, 5e-05, 1e16, float("nan"), float("-inf"), 2**70, True):
        for state in states:
            record = {**_STAT_RECORD, "Value": value, "State": state}
            assert encode_stat_line(record) == _reference(record), (value, state)


def test_odd_statistic_records_fall_back_to_the_reference() -> None:
    reordered = {"Reason": "Final", **{k: v for k, v in _STAT_RECORD.items() if k != "Reason"}}
    for record in (
        reordered,
        {**_STAT_RECORD, "IntervalStart": True},  # bool and float times are not the cached int's text
        {**_STAT_RECORD, "IntervalEnd": 1772409600000.0},
        {**_STAT_RECORD, "ObjectID": 7},
        {**_STAT_RECORD, "TenantID": "caf\u00e9 \u2028 \x00 \"q\" \\"},
        {"Statistic": "S", "Value": 1},
    ):
        assert encode_stat_line(record) == _reference(record), record
    encode_stat_line({**_STAT_RECORD, "IntervalStart": 1})
    assert encode_stat_line({**_STAT_RECORD, "IntervalStart": True}) == _reference(
        {**_STAT_RECORD, "IntervalStart": True})


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["a1", "", "é\u2028", "\x00\"\\"]) | st.text(max_size=4),
    st.none() | _TIMES, st.none() | _TIMES, _TIMES,
    st.none() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(),
    st.none() | _TIMES,
)
def test_any_statistic_record_is_written_as_the_reference_writes_it(
    object_id: str, start: int | None, end: int | None, emitted: int, value: Any, since: int | None
) -> None:
    record = {**_STAT_RECORD, "ObjectID": object_id, "IntervalStart": start, "IntervalEnd": end,
              "EmittedAt": emitted, "Value": value,
              "State": None if since is None else {"Status": object_id, "Since": since}}
    try:
        expected = _reference(record)
    except (UnicodeEncodeError, ValueError, OverflowError):
        return  # the reference cannot write it either (a lone surrogate…); nothing to compare
    assert encode_stat_line(record) == expected
