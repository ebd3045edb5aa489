"""The future-time rule (docs/input-validation.md, "Future times"): validation and its clock."""

from __future__ import annotations

import pytest

from pipeline.records.errors import BadRecord
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, parse_tolerance
from pipeline.records.times import parse_time
from pipeline.records.validation import validate_event

NOW = parse_time("2026-03-02T09:00:00Z")
DAY = 86_400_000


def held(time: str | int, **extra) -> dict:
    return {"Event": "EventHeld", "EventTime": time, "TenantID": "t1", "InteractionID": "i1", **extra}


def test_an_event_more_than_the_tolerance_ahead_is_future_time():
    with pytest.raises(BadRecord) as info:
        validate_event(held("2027-03-02T09:00:00Z"), reference_ms=NOW)
    assert info.value.kind == "future-time"
    assert info.value.reason == (
        "EventHeld: EventTime 2027-03-02T09:00:00.000Z is 365d ahead of the wall clock "
        "2026-03-02T09:00:00.000Z (tolerance 1d; see --future-tolerance)"
    )


def test_the_tolerance_itself_is_accepted_and_is_one_day_by_default():
    assert DEFAULT_FUTURE_TOLERANCE_MS == DAY
    assert validate_event(held(NOW + DAY), reference_ms=NOW)["EventTime"] == NOW + DAY
    with pytest.raises(BadRecord, match="future-time"):
        validate_event(held(NOW + DAY + 1), reference_ms=NOW)
    with pytest.raises(BadRecord, match="tolerance 1h"):
        validate_event(held(NOW + 3_600_001), reference_ms=NOW, future_tolerance_ms=3_600_000)


def test_no_clock_or_no_tolerance_means_no_rule():
    assert validate_event(held("9999-12-31T23:59:59.999Z"))["EventTime"] > NOW
    assert validate_event(held("9999-12-31T23:59:59.999Z"), reference_ms=NOW, future_tolerance_ms=None)


def test_a_record_bad_in_itself_keeps_its_own_verdict_whatever_the_clock():
    with pytest.raises(BadRecord) as info:
        validate_event(held("2100-01-01T00:00:00Z", PartyType="agent"), reference_ms=NOW)
    assert info.value.kind == "bad-value"


def test_ignored_events_are_judged_too():
    custom = {"Event": "EventCustomReporting", "EventTime": NOW + 2 * DAY, "TenantID": "t1"}
    with pytest.raises(BadRecord, match="future-time"):
        validate_event(custom, reference_ms=NOW)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1d", DAY), ("36h", 36 * 3_600_000), ("90m", 5_400_000), ("600s", 600_000), ("600", 600_000),
     ("250ms", 250), ("1.5d", 36 * 3_600_000), ("off", None), ("OFF", None)],
)
def test_tolerance_spellings(text, ms):
    assert parse_tolerance(text) == ms


@pytest.mark.parametrize("text", ["", "soon", "-1d", "1.d", "1w"])
def test_bad_tolerances_are_refused(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_tolerance(text)
