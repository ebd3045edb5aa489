"""``feed`` and ``tail`` with Schema Registry framing on the real broker.

``feed --serialization registry`` and ``tail --schema-registry-url`` run in this process, so they
share its in-memory ``mock://`` registry (one client per URL per process), as two programs share a
real registry.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from pipeline.cli import main
from pipeline.kafka.admin import ensure_topics
from pipeline.records.codec import decode, encode, to_json
from pipeline.records.serialization import Registry
from tests.golden import scenario
from tests.records.samples import FULL, MINIMAL
from tests.stream.harness import read_topics

pytestmark = pytest.mark.integration


def tail_lines(capsys, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["tail", *args, "--from-beginning", "--timeout", "3"]) == 0
    return capsys.readouterr().out.splitlines()


def test_tail_of_a_registry_framed_topic(kafka_bootstrap: str, capsys) -> None:
    """Every record type, registry-framed, then one of an unknown schema id and one single-object."""
    url = f"mock://tail-{uuid.uuid4().hex[:8]}"
    topic = f"t{uuid.uuid4().hex[:10]}.mixed"
    ensure_topics(kafka_bootstrap, [topic])
    registry = Registry(url)
    records = [(name, rec) for recs in (MINIMAL, FULL) for name, rec in recs.items()]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for name, record in records:
        producer.produce(topic, value=registry.encode(name, record, topic))
    unknown = b"\x00" + (9999).to_bytes(4, "big") + b"\x02"
    producer.produce(topic, value=unknown)
    producer.produce(topic, value=encode("ActionRecord", FULL["ActionRecord"]))
    assert producer.flush(30) == 0

    lines = tail_lines(capsys, topic, "--bootstrap", kafka_bootstrap, "--schema-registry-url", url)
    expected = [to_json(decode(encode(name, rec))[1]) for name, rec in records]
    assert lines[: len(records)] == expected
    marker = json.loads(lines[len(records)])
    assert marker["Undecodable"] == f"unknown schema id 9999: the schema registry at {url} does not have it"
    assert marker["Offset"] == len(records)
    assert lines[len(records) + 1] == to_json(decode(encode("ActionRecord", FULL["ActionRecord"]))[1])

    # without the registry, each registry-framed message is an Undecodable line saying what is missing
    plain = tail_lines(capsys, topic, "--bootstrap", kafka_bootstrap)
    assert len(plain) == len(records) + 2
    reasons = [json.loads(line).get("Undecodable", "") for line in plain[: len(records) + 1]]
    assert all("no schema registry is configured (--schema-registry-url)" in r for r in reasons), reasons


def test_feed_with_registry_framing_then_tail(kafka_bootstrap: str, tmp_path: Path, capsys) -> None:
    url = f"mock://feed-{uuid.uuid4().hex[:8]}"
    prefix = f"t{uuid.uuid4().hex[:10]}"
    lines = scenario("routed-emails.events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line + "\n" for line in lines) + "{not json\n")
    common = ["--bootstrap", kafka_bootstrap, "--prefix", prefix, "--schema-registry-url", url]
    ensure_topics(kafka_bootstrap, [f"{prefix}.events", f"{prefix}.dead-letters"])
    assert main(["feed", str(path), "--serialization", "registry", *common]) == 0

    want = len(events) + 1
    raw = read_topics(kafka_bootstrap, [f"{prefix}.events"], want=want, idle_s=2, timeout_s=30)
    values = [r["raw"] for _, r in raw]
    assert [v[:1] for v in values[:-1]] == [b"\x00"] * len(events)  # registry framing
    assert values[-1] == b"{not json"  # an invalid line goes as it is, for the worker to dead-letter
    tailed = [json.loads(line) for line in tail_lines(capsys, "events", *common)]
    fed = [(e["Event"], e["EventTime"]) for e in events]
    assert [(e["Event"], e["EventTime"]) for e in tailed[:-1]] == fed
    assert tailed[-1]["Payload"] == "{not json"


def test_registry_framing_without_a_url_is_refused(kafka_bootstrap: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("{}\n")
    assert main(["feed", str(path), "--bootstrap", kafka_bootstrap, "--serialization", "registry"]) == 2
    assert "--serialization registry needs --schema-registry-url" in capsys.readouterr().err


def test_an_unreachable_registry_stops_feed_at_once_with_one_line(
    kafka_bootstrap: str, tmp_path: Path, capsys
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    args = ["--bootstrap", kafka_bootstrap, "--prefix", prefix, "--serialization", "registry"]
    events = str(scenario("routed-emails.events.jsonl"))
    code = main(["feed", events, *args, "--schema-registry-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    where = f"schema registry at http://127.0.0.1:9: cannot register ReportingEvent for {prefix}.events"
    assert len(err) == 1 and err[0].startswith(f"mediastat feed: {where}"), err
