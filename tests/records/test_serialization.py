"""Schema Registry framing (pipeline.records.serialization) against confluent-kafka's in-memory
``mock://`` registry: round trips, framing sniffing, schema evolution both ways, unknown schemas."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema

from pipeline.records import codec
from pipeline.records import serialization as framing
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import RECORD_TYPES, load_schema
from pipeline.records.serialization import Registry, SingleObject, registry_client
from tests.records.samples import FULL, MINIMAL

CASES = [(t, kind, rec) for kind, recs in (("minimal", MINIMAL), ("full", FULL)) for t, rec in recs.items()]
NEW_FIELD = {"name": "Note", "type": ["null", "string"], "default": None, "doc": "added in v2"}


def mock_url() -> str:
    """A registry of its own for each test (mock:// registries live as long as the process)."""
    return f"mock://test-{uuid.uuid4().hex[:8]}"


def v2_schema(record_type: str) -> dict[str, Any]:
    """Version 2 of a schema: today's plus one optional field with a default (how schemas evolve)."""
    raw = json.loads(json.dumps(load_schema(record_type).raw))
    raw["fields"].append(dict(NEW_FIELD))
    return raw


def full_record(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as a decoder returns it: every optional field present, absent ones null."""
    return codec.decode(codec.encode(record_type, record))[1]


@pytest.mark.parametrize("record_type,kind,record", CASES)
def test_registry_round_trip_of_every_record_type(record_type: str, kind: str, record: dict) -> None:
    url = mock_url()
    registry = Registry(url)
    topic = f"p.{record_type}"
    data = registry.encode(record_type, record, topic)
    assert data[0] == 0  # Confluent's magic byte, then the schema id
    schema_id = int.from_bytes(data[1:5], "big")
    assert registry_client(url).get_schema(schema_id).schema_str == json.dumps(load_schema(record_type).raw)
    assert registry_client(url).get_subjects() == [f"{topic}-value"]  # TopicNameStrategy
    got_type, got = Registry(url).decode(data, topic)  # another instance: only the registry is shared
    assert (got_type, got) == (record_type, full_record(record_type, record))
    assert all(isinstance(got[k], int) for k in ("EventTime", "EmittedAt", "Time") if k in got)


def test_single_object_stays_the_default_and_writes_what_the_codec_writes() -> None:
    args = argparse.Namespace(serialization="single-object", schema_registry_url=None)
    chosen = framing.from_arguments(args)
    assert isinstance(chosen, SingleObject)
    record = FULL["ActionRecord"]
    assert chosen.encode("ActionRecord", record, "p.actions") == codec.encode("ActionRecord", record)
    parser = argparse.ArgumentParser()
    framing.add_arguments(parser)
    assert parser.parse_args([]).serialization == "single-object"


def test_registry_framing_needs_a_url() -> None:
    with pytest.raises(ValueError, match="--serialization registry needs --schema-registry-url"):
        framing.from_arguments(argparse.Namespace(serialization="registry", schema_registry_url=None))
    with pytest.raises(ValueError, match="unknown serialization 'avro'; expected one of single-object"):
        framing.from_arguments(argparse.Namespace(serialization="avro", schema_registry_url=None))


def test_either_framing_is_read_and_a_registry_worker_may_keep_writing_single_object() -> None:
    url = mock_url()
    record = FULL["ReportingEvent"]
    framed = Registry(url).encode("ReportingEvent", record, "p.events")
    single = codec.encode("ReportingEvent", record)
    reader = Registry(url, writes="single-object")
    assert reader.encode("ReportingEvent", record, "p.events") == single
    assert reader.decode(framed, "p.events") == reader.decode(single, "p.events")


def test_without_a_registry_registry_framing_is_a_bad_record_naming_the_option() -> None:
    framed = Registry(mock_url()).encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    with pytest.raises(BadRecord) as caught:
        SingleObject().decode(framed, "p.actions")
    assert caught.value.kind == "decode"
    assert "schema id" in caught.value.reason and "--schema-registry-url" in caught.value.reason


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_a_v2_record_is_read_by_todays_code(record_type: str) -> None:
    """A producer on v2 (a new optional field) registers v2 under the topic's subject; today's
    reader resolves it into today's schema: the new field is dropped, everything else kept."""
    url = mock_url()
    topic = f"p.{record_type}"
    today = Registry(url)
    today.encode(record_type, FULL[record_type], topic)  # v1 registered first, as in real life
    newer = Registry(url, schemas={record_type: v2_schema(record_type)})
    data = newer.encode(record_type, {**FULL[record_type], "Note": "from v2"}, topic)
    v1_id = int.from_bytes(today.encode(record_type, FULL[record_type], topic)[1:5], "big")
    assert int.from_bytes(data[1:5], "big") != v1_id  # really written with another schema
    assert [v.version for v in [registry_client(url).get_latest_version(f"{topic}-value")]] == [2]
    got_type, got = today.decode(data, topic, expected=record_type)
    assert got_type == record_type
    assert got == full_record(record_type, FULL[record_type]) and "Note" not in got


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_todays_record_is_read_by_a_v2_reader(record_type: str) -> None:
    url = mock_url()
    topic = f"p.{record_type}"
    data = Registry(url).encode(record_type, FULL[record_type], topic)
    newer = Registry(url, schemas={record_type: v2_schema(record_type)})
    got_type, got = newer.decode(data, topic, expected=record_type)
    assert got_type == record_type
    assert got == {**full_record(record_type, FULL[record_type]), "Note": None}  # the v2 default


def test_an_unknown_schema_id_is_a_bad_record_naming_it() -> None:
    url = mock_url()
    registry = Registry(url)
    registry.encode("ActionRecord", FULL["ActionRecord"], "p.actions")  # the registry is not empty
    with pytest.raises(BadRecord) as caught:
        unknown = b"\x00" + (4242).to_bytes(4, "big") + b"\x02xy"
        registry.decode(unknown, "p.events", expected="ReportingEvent")
    assert caught.value.kind == "decode"
    assert caught.value.reason == f"unknown schema id 4242: the schema registry at {url} does not have it"


def test_a_schema_that_is_not_ours_or_not_the_expected_type_is_a_bad_record() -> None:
    url = mock_url()
    client = registry_client(url)
    foo = json.dumps({"type": "record", "name": "Foo", "fields": [{"name": "x", "type": "long"}]})
    foo_id = client.register_schema("other-value", Schema(foo, "AVRO"))
    with pytest.raises(BadRecord, match=f"schema id {foo_id} is Foo, not a mediastat record type"):
        Registry(url).decode(b"\x00" + foo_id.to_bytes(4, "big") + b"\x02", "other")
    action = Registry(url).encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    with pytest.raises(BadRecord, match="expected a ReportingEvent but schema id .* is a ActionRecord"):
        Registry(url).decode(action, "p.actions", expected="ReportingEvent")


def test_a_corrupt_or_truncated_body_is_a_bad_record() -> None:
    url = mock_url()
    data = Registry(url).encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    for bad in (data[:20], data[:6], data[:5]):
        with pytest.raises(BadRecord) as caught:
            Registry(url).decode(bad, "p.actions")
        assert caught.value.kind == "decode"


def test_encode_names_the_missing_field_as_the_codec_does() -> None:
    record = {k: v for k, v in FULL["ActionRecord"].items() if k != "ObjectID"}
    with pytest.raises(BadRecord) as caught:
        Registry(mock_url()).encode("ActionRecord", record, "p.actions")
    assert (caught.value.kind, caught.value.reason) == ("missing-field", "ActionRecord.ObjectID is required")


def test_the_serializer_is_built_and_registered_once_per_record_type_and_topic(monkeypatch) -> None:
    """Encoding a record makes no registry call: the schema is registered when the serializer for
    (record type, topic) is built, and it is built once."""
    url = mock_url()
    client = registry_client(url)
    calls: list[str] = []
    original = client.register_schema_full_response

    def counting(subject, schema, normalize_schemas=False):
        calls.append(subject)
        return original(subject, schema, normalize_schemas=normalize_schemas)

    monkeypatch.setattr(client, "register_schema_full_response", counting)
    registry = Registry(url)
    framing.prepare(registry, [("ActionRecord", "p.actions"), ("DeadLetter", "p.dead-letters")])
    assert sorted(set(calls)) == ["p.actions-value", "p.dead-letters-value"]
    registry.encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    after_first = len(calls)
    for _ in range(200):
        registry.encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    assert len(calls) == after_first
    assert list(registry._writers) == [("ActionRecord", "p.actions"), ("DeadLetter", "p.dead-letters")]


def test_an_unreachable_registry_stops_a_command_at_start_with_the_reason() -> None:
    registry = Registry("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(framing.RegistryUnavailable, match="schema registry at http://127.0.0.1:9"):
        framing.prepare(registry, [("ReportingEvent", "p.events")])
