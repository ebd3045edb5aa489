"""The compiled Avro writers (``pipeline.records.avro_writer``) write what fastavro writes.

Records are drawn from each schema itself: every field present with a value of its type, absent,
None, or of a wrong type (a float for a long, a bool for a string, a tuple for an array, a
``datetime`` for a timestamp…). ``codec.encode`` (compiled writer, fastavro for what it leaves)
must give fastavro's bytes, or refuse the record with fastavro's BadRecord.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records import avro_writer
from pipeline.records.codec import _as_written, decode, encode, fastavro_encode
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import RECORD_TYPES, load_schema
from tests.records.samples import FULL, MINIMAL

_TEXT = st.sampled_from(["", "a1", "Zoë", "\u2028", "x" * 70, "\ud800"]) | st.text(max_size=6)
_WRONG = st.sampled_from([1.5, True, b"b", (1,), datetime(2026, 1, 1, tzinfo=UTC), 2**64, "7", -1])


def _values(node: Any, named: dict[str, Any]) -> st.SearchStrategy:
    """Values of an Avro type: mostly right, sometimes wrong."""
    if isinstance(node, list):
        return st.one_of(*(_values(b, named) for b in node))
    if isinstance(node, dict):
        kind = node["type"]
        if kind == "record":
            strategy = _record(node, named)
            named[node["name"]] = strategy
            return strategy
        if kind == "map":
            return st.dictionaries(_TEXT, _values(node["values"], named), max_size=3)
        if kind == "array":
            return st.lists(_values(node["items"], named), max_size=3)
        node = kind
    if node in named:
        return named[node]
    return {
        "null": st.none(),
        "string": _TEXT,
        "long": st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.integers(min_value=0, max_value=2**42),
        "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "double": st.floats() | st.integers(min_value=-(2**60), max_value=2**60),
        "boolean": st.booleans(),
        "bytes": st.binary(max_size=70),
    }[node]


def _record(schema: dict[str, Any], named: dict[str, Any]) -> st.SearchStrategy:
    fields = {
        f["name"]: st.one_of(_values(f["type"], named), _values(f["type"], named), st.none(), _WRONG)
        for f in schema["fields"]
    }
    present = st.fixed_dictionaries({}, optional=fields)
    return st.one_of(present, st.fixed_dictionaries(fields))


def _outcome(fn, record_type: str, record: dict) -> tuple[str, Any]:
    try:
        return "bytes", fn(record_type, record)
    except BadRecord as refused:
        return "refused", (refused.kind, str(refused))


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_every_schema_of_ours_is_compiled(record_type: str) -> None:
    assert avro_writer.compile_writer(load_schema(record_type).raw) is not None


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_random_records_are_written_as_fastavro_writes_them(record_type: str) -> None:
    schema = load_schema(record_type).raw

    @settings(max_examples=150, deadline=None)
    @given(_record(schema, {}))
    def check(record: dict) -> None:
        assert _outcome(encode, record_type, record) == _outcome(fastavro_encode, record_type, record)

    check()


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@pytest.mark.parametrize("sample", [MINIMAL, FULL], ids=["minimal", "full"])
def test_the_samples_are_written_by_the_compiled_writer(record_type: str, sample: dict) -> None:
    """The pipeline's own records take the compiled path (not fastavro's), and read back."""
    record = sample[record_type]
    writer = avro_writer.compile_writer(load_schema(record_type).raw)
    body = writer(_as_written(record_type, record))  # raises Unsupported if it left it to fastavro
    assert encode(record_type, record) == fastavro_encode(record_type, record)
    assert encode(record_type, record).endswith(body)
    assert decode(encode(record_type, record), expected=record_type)[0] == record_type


def test_longs_at_the_edges() -> None:
    for n in (0, -1, 1, 63, -64, 64, -65, 2**31, -(2**63), 2**63 - 1):
        record = {**MINIMAL["ActionRecord"], "EventTime": n, "DurationMs": n}
        assert encode("ActionRecord", record) == fastavro_encode("ActionRecord", record)
