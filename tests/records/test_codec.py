"""The Avro single-object codec and the JSON Lines codec (records.md)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records.codec import (
    HEADER_LEN,
    MARKER,
    decode,
    encode,
    fingerprint_of,
    read_avro_file,
    record_from_json,
    to_json,
    write_avro_file,
)
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import RECORD_TYPES, load_schema, rabin_fingerprint
from tests.records.samples import FULL, MINIMAL, with_nulls

ALL_SAMPLES = [(t, "minimal", MINIMAL[t]) for t in RECORD_TYPES] + [
    (t, "full", FULL[t]) for t in RECORD_TYPES
]
IDS = [f"{t}-{k}" for t, k, _ in ALL_SAMPLES]


def test_rabin_fingerprint_matches_the_avro_spec_vector() -> None:
    # The Avro reference implementation's 64-bit fingerprint of the primitive schema "int".
    assert rabin_fingerprint(b'"int"') == 0x7275D51A3F395C8F


def test_the_schemas_have_distinct_fingerprints() -> None:
    assert len({load_schema(t).fingerprint for t in RECORD_TYPES}) == len(RECORD_TYPES) == 5


@pytest.mark.parametrize(("record_type", "kind", "record"), ALL_SAMPLES, ids=IDS)
def test_avro_round_trip(record_type: str, kind: str, record: dict) -> None:
    data = encode(record_type, record)
    assert data[:2] == MARKER
    assert data[2:HEADER_LEN] == load_schema(record_type).fingerprint.to_bytes(8, "little")
    assert decode(data) == (record_type, with_nulls(record_type, record))
    assert decode(data, expected=record_type)[1] == with_nulls(record_type, record)


@pytest.mark.parametrize(("record_type", "kind", "record"), ALL_SAMPLES, ids=IDS)
def test_times_stay_int_milliseconds(record_type: str, kind: str, record: dict) -> None:
    _, out = decode(encode(record_type, record))
    for key in ("EventTime", "StartTime", "IntervalStart", "IntervalEnd", "EmittedAt", "Time"):
        if out.get(key) is not None:
            assert type(out[key]) is int


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "too short"),
        (b"\xc3\x01\x00", "too short"),
        (b"\x00\x01" + bytes(20), "marker"),
        (MARKER + b"\x01\x02\x03\x04\x05\x06\x07\x08" + b"\x00", "unknown schema fingerprint"),
        (b'{"Event": "EventAgentLogin"}', "marker"),
    ],
)
def test_bytes_that_are_not_our_avro(data: bytes, words: str) -> None:
    with pytest.raises(BadRecord) as info:
        decode(data)
    assert info.value.kind == "decode"
    assert words in info.value.reason


def test_wrong_fingerprint_for_the_expected_type() -> None:
    data = encode("ActionRecord", MINIMAL["ActionRecord"])
    with pytest.raises(BadRecord) as info:
        decode(data, expected="ReportingEvent")
    assert info.value.kind == "decode"
    assert "expected a ReportingEvent" in info.value.reason and "ActionRecord" in info.value.reason


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_every_truncation_is_a_bad_record(record_type: str) -> None:
    data = encode(record_type, FULL[record_type])
    for cut in range(len(data)):
        with pytest.raises(BadRecord) as info:
            decode(data[:cut])
        assert info.value.kind == "decode"
        assert info.value.reason


def test_trailing_bytes_are_corruption() -> None:
    data = encode("ReportingEvent", MINIMAL["ReportingEvent"]) + b"\x00"
    with pytest.raises(BadRecord, match="trailing bytes"):
        decode(data)


def test_corrupt_union_index() -> None:
    data = bytearray(encode("ReportingEvent", MINIMAL["ReportingEvent"]))
    data[-1] = 0x7F  # last field's union branch index → 63, no such branch
    with pytest.raises(BadRecord) as info:
        decode(bytes(data))
    assert "corrupt ReportingEvent body" in info.value.reason


def test_corrupt_string_bytes_are_not_utf8() -> None:
    data = bytearray(encode("ReportingEvent", MINIMAL["ReportingEvent"]))
    data[HEADER_LEN + 1] = 0xFF  # first byte of "EventAgentLogin"
    with pytest.raises(BadRecord, match="UTF-8"):
        decode(bytes(data))


def test_huge_length_prefix_is_refused_without_allocating() -> None:
    # Event's string length as a varint of ~2**62, followed by nothing.
    data = fingerprint_of("ReportingEvent") + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"
    with pytest.raises(BadRecord) as info:
        decode(data)
    assert info.value.kind == "decode"


@settings(max_examples=300, deadline=None)
@given(
    record_type=st.sampled_from(RECORD_TYPES),
    position=st.integers(min_value=0, max_value=10_000),
    value=st.integers(min_value=0, max_value=255),
)
def test_any_single_byte_corruption_never_escapes_as_another_error(
    record_type: str, position: int, value: int
) -> None:
    data = bytearray(encode(record_type, FULL[record_type]))
    data[position % len(data)] = value
    try:
        decoded_type, record = decode(bytes(data))
    except BadRecord as exc:
        assert exc.kind == "decode" and exc.reason
    else:
        assert decoded_type in RECORD_TYPES and isinstance(record, dict)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_another_error(data: bytes) -> None:
    for candidate in (data, fingerprint_of("ReportingEvent") + data, fingerprint_of("DeadLetter") + data):
        try:
            decode(candidate)
        except BadRecord as exc:
            assert exc.kind == "decode"


def test_encode_names_the_missing_field() -> None:
    record = dict(MINIMAL["ReportingEvent"])
    del record["TenantID"]
    with pytest.raises(BadRecord) as info:
        encode("ReportingEvent", record)
    assert info.value.kind == "missing-field" and "TenantID" in info.value.reason


def test_encode_names_the_wrong_type() -> None:
    record = dict(MINIMAL["ReportingEvent"], UserData={"k": 1})
    with pytest.raises(BadRecord) as info:
        encode("ReportingEvent", record)
    assert info.value.kind == "wrong-type" and "UserData" in info.value.reason


# ---------------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(("record_type", "kind", "record"), ALL_SAMPLES, ids=IDS)
def test_json_round_trip(record_type: str, kind: str, record: dict) -> None:
    line = to_json(record)
    assert "\n" not in line
    assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))  # compact
    assert record_from_json(record_type, line) == record


def test_json_times_are_iso_and_key_order_is_kept() -> None:
    line = to_json(FULL["ActionRecord"])
    obj = json.loads(line)
    assert list(obj) == list(FULL["ActionRecord"])
    assert obj["EventTime"] == "2026-03-02T09:05:00.000Z"
    assert obj["StartTime"] == "2026-03-02T09:00:00.000Z"


def test_json_nulls_are_kept() -> None:
    _, decoded = decode(encode("ActionRecord", MINIMAL["ActionRecord"]))
    obj = json.loads(to_json(decoded))
    assert obj["Phase"] is None and obj["EventTime"] == "2026-03-02T09:00:00.000Z"


def test_dead_letter_payload_utf8_and_base64() -> None:
    text = json.loads(to_json(MINIMAL["DeadLetter"]))
    assert text["Payload"] == "{not json" and "PayloadEncoding" not in text
    binary = json.loads(to_json(FULL["DeadLetter"]))
    assert binary["PayloadEncoding"] == "base64"
    assert record_from_json("DeadLetter", to_json(FULL["DeadLetter"]))["Payload"] == b"\xff\xfe not utf-8"


@pytest.mark.parametrize("line", ["{", "not json", "[1, 2]", '"x"', b"\xff\xfe"])
def test_bad_json_is_a_decode_bad_record(line: str | bytes) -> None:
    with pytest.raises(BadRecord) as info:
        record_from_json("ReportingEvent", line)
    assert info.value.kind == "decode"


def test_bad_time_in_json() -> None:
    with pytest.raises(BadRecord) as info:
        record_from_json("ReportingEvent", '{"Event":"EventAgentLogin","EventTime":"yesterday"}')
    assert info.value.kind == "bad-time" and "EventTime" in info.value.reason


def test_spec_scenario_lines_parse() -> None:
    line = (
        '{"Event":"EventAgentLogin","EventTime":"2026-03-02T09:00:00.000Z","TenantID":"t1",'
        '"AgentID":"a1","PlaceID":"p1","MediaList":[{"MediaTypeID":"email","Ready":true}]}'
    )
    record = record_from_json("ReportingEvent", line)
    assert record["EventTime"] == 1_772_442_000_000
    _, back = decode(encode("ReportingEvent", record))
    assert back["MediaList"] == [{"MediaTypeID": "email", "Ready": True, "Reason": None}]


# ------------------------------------------------------------------------------- Avro files


def test_avro_container_file_round_trip(tmp_path) -> None:
    path = tmp_path / "events.avro"
    records = [MINIMAL["ReportingEvent"], FULL["ReportingEvent"]]
    write_avro_file(path, "ReportingEvent", records)
    got = list(read_avro_file(path))
    assert got == [with_nulls("ReportingEvent", r) for r in records]


def test_avro_container_file_with_logical_times_gives_int_ms(tmp_path) -> None:
    import fastavro

    path = tmp_path / "events.avro"
    with open(path, "wb") as fo:  # written with the logical type, as another producer would
        fastavro.writer(
            fo, fastavro.parse_schema(load_schema("ReportingEvent").raw, {}), [MINIMAL["ReportingEvent"]]
        )
    (got,) = read_avro_file(path)
    assert got["EventTime"] == MINIMAL["ReportingEvent"]["EventTime"] and type(got["EventTime"]) is int


def test_not_an_avro_file(tmp_path) -> None:
    path = tmp_path / "events.avro"
    path.write_text('{"Event": "x"}\n')
    with pytest.raises(BadRecord) as info:
        list(read_avro_file(path))
    assert info.value.kind == "decode"


def test_the_remembered_iso_time_is_to_iso_also_past_its_bound() -> None:
    """``times.iso`` (a state's ``Since`` in the Avro of every CurrentState record, the times of JSON
    lines) gives ``to_iso``'s text for any time, the cache filled past its bound and cleared."""
    from pipeline.records import times

    start = 1_772_442_000_000
    moments = [start + 997 * n for n in range(times._ISO_CACHE_SIZE + 50)] + [0, 1, start]
    assert [times.iso(ms) for ms in moments] == [times.to_iso(ms) for ms in moments]
    assert len(times._ISO_CACHE) <= times._ISO_CACHE_SIZE
