"""The one dead-letter builder gives records the DeadLetter schema accepts, for both origins."""

from __future__ import annotations

from pipeline.records.codec import decode, encode
from pipeline.records.deadletter import build_dead_letter as dead_letter
from pipeline.records.errors import BadRecord


def test_a_kafka_dead_letter_round_trips_through_the_schema() -> None:
    bad = BadRecord("decode", "not valid JSON")
    letter = dead_letter(
        b"{nope", bad, source_topic="p.events", source_partition=2, source_offset=41, time_ms=1_700_000_000
    )
    assert decode(encode("DeadLetter", letter), expected="DeadLetter")[1] == letter
    assert (letter["ErrorKind"], letter["Reason"]) == ("decode", "not valid JSON")


def test_a_file_dead_letter_has_no_partition_and_the_line_number() -> None:
    bad = BadRecord("unknown-event", "Event 'EventNope' is not a known reporting event")
    letter = dead_letter(
        b"{}", bad, source_topic="day.jsonl", source_partition=None, source_offset=7, time_ms=0
    )
    assert decode(encode("DeadLetter", letter), expected="DeadLetter")[1] == letter
    assert (letter["SourcePartition"], letter["SourceOffset"]) == (None, 7)
