"""One duration syntax for every option that takes one (``pipeline.records.durations``)."""

from __future__ import annotations

import argparse

import pytest

from pipeline.kafka.admin import duration_ms
from pipeline.records.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "ms"),
    [("2s", 2000), ("500ms", 500), ("90m", 5_400_000), ("36h", 129_600_000), ("1d", 86_400_000),
     ("1.5h", 5_400_000), ("0.5s", 500), (" 7 D ", 604_800_000), ("2", 2000), ("0", 0)],
)
def test_every_spelling_of_the_one_syntax(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "soon", "-1s", "1w", "1.s", ".5s", "1e3ms", "2 s s"])
def test_what_is_not_a_duration_is_refused_with_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=f"invalid duration {text!r}"):
        parse_duration(text)


def test_a_unit_can_be_required_and_zero_still_needs_none() -> None:
    with pytest.raises(ValueError, match="'604800000' needs a unit"):
        parse_duration("604800000", unit_required=True)
    assert parse_duration("0", unit_required=True) == 0
    assert parse_duration("604800000ms", unit_required=True) == 604_800_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [("7d", 604_800_000), ("1h", 3_600_000), ("1.5d", 129_600_000), ("250ms", 250), ("broker", None),
     ("default", None)],
)
def test_retention_and_segment_take_the_same_syntax(text: str, ms: int | None) -> None:
    assert duration_ms(text) == ms


def test_a_bare_number_of_milliseconds_for_kafka_is_refused_not_read_as_seconds() -> None:
    """``retention.ms`` counts milliseconds and our durations seconds: a bare number is ambiguous."""
    with pytest.raises(argparse.ArgumentTypeError, match="needs a unit"):
        duration_ms("604800000")
