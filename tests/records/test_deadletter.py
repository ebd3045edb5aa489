"""The dead-letter builder: every letter fits its budget, a cut payload says so, old letters still read."""

from __future__ import annotations

import io

import pytest
from fastavro import schemaless_writer

from pipeline.records.codec import MARKER, decode, encode
from pipeline.records.deadletter import MAX_DEAD_LETTER_BYTES, build_dead_letter
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import previous_schemas_by_fingerprint

BAD = BadRecord("decode", "invalid JSON: Expecting value: line 1 column 1 (char 0)")


def letter(payload: bytes, **kw) -> dict:
    return build_dead_letter(
        payload, BAD, source_topic="mediastat.events", source_partition=3, source_offset=123, time_ms=7, **kw
    )


@pytest.mark.parametrize("size", [0, 10, 899_000, 900_000, 1_000_000, 1_050_000, 5_000_000])
def test_a_dead_letter_always_fits_and_records_the_original_size(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    got = letter(payload)
    encoded = encode("DeadLetter", got)
    assert len(encoded) <= MAX_DEAD_LETTER_BYTES
    assert got["PayloadSize"] == size
    assert payload.startswith(got["Payload"])
    assert got["PayloadTruncated"] == (len(got["Payload"]) < size)
    assert decode(encoded, expected="DeadLetter")[1] == got


def test_a_cut_payload_uses_the_whole_budget() -> None:
    got = letter(b"#" * 2_000_000)
    assert got["PayloadTruncated"]
    assert MAX_DEAD_LETTER_BYTES - 64 < len(encode("DeadLetter", got)) <= MAX_DEAD_LETTER_BYTES


def test_a_smaller_budget_is_kept_and_small_payloads_are_whole() -> None:
    assert len(encode("DeadLetter", letter(b"#" * 50_000, max_bytes=10_000))) <= 10_000
    whole = letter(b"not json")
    assert whole["Payload"] == b"not json" and not whole["PayloadTruncated"]


def test_a_runaway_reason_is_shortened_not_the_provenance() -> None:
    got = build_dead_letter(
        b"x" * 1000,
        BadRecord("bad-value", "r" * 100_000),
        source_topic="t",
        source_partition=0,
        source_offset=1,
        time_ms=0,
        max_bytes=20_000,
    )
    assert len(got["Reason"]) <= 2_000 and got["SourceOffset"] == 1
    assert len(encode("DeadLetter", got)) <= 20_000


def test_dead_letters_written_with_the_previous_schema_still_decode() -> None:
    """Letters already on a topic carry the old fingerprint; they read with the new fields' defaults."""
    (old,) = [s for s in previous_schemas_by_fingerprint().values() if s.name == "DeadLetter"]
    record = {
        "Payload": b"{oops",
        "SourceTopic": "mediastat.events",
        "SourcePartition": 0,
        "SourceOffset": 9,
        "ErrorKind": "decode",
        "Reason": "invalid JSON",
        "Time": 1772442000000,
    }
    buf = io.BytesIO()
    buf.write(MARKER + old.fingerprint_bytes)
    schemaless_writer(buf, old.parsed, record)
    name, got = decode(buf.getvalue())
    assert name == "DeadLetter"
    assert got == {**record, "PayloadSize": None, "PayloadTruncated": False}
