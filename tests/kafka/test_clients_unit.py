"""Broker-free parts of the Kafka plumbing: naming, bootstrap resolution, feed/tail framing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pipeline.kafka import broker
from pipeline.kafka.admin import core_topics, stat_topic, topic_name
from pipeline.kafka.bootstrap import NoKafka, resolve_bootstrap
from pipeline.kafka.feed import prepare_line
from pipeline.kafka.tail import render, resolve_topic
from pipeline.records.codec import decode, encode
from pipeline.stream.app import broker_url

LOGIN = b'{"Event":"EventAgentLogin","EventTime":"2026-03-02T09:00:00.000Z","TenantID":"t1","AgentID":"a1"}'
ADDED = (
    b'{"Event":"EventPartyAdded","EventTime":"2026-03-02T09:01:40.000Z","TenantID":"t1",'
    b'"InteractionID":"i1","MediaTypeID":"email","AgentID":"a1","PlaceID":"p1"}'
)


def test_topic_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIASTAT_TOPIC_PREFIX", raising=False)
    assert core_topics() == [
        "mediastat.events",
        "mediastat.actions",
        "mediastat.dead-letters",
        "mediastat.late",
    ]
    assert stat_topic("Total_Handled") == "mediastat.stat.Total_Handled"
    monkeypatch.setenv("MEDIASTAT_TOPIC_PREFIX", "lab")
    assert topic_name("events") == "lab.events" and topic_name("lab.events") == "lab.events"
    assert topic_name("events", "x") == "x.events"
    assert resolve_topic("stat.Foo") == "lab.stat.Foo" and resolve_topic("other.topic") == "other.topic"


def test_resolve_bootstrap_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "env:9092")
    assert resolve_bootstrap("cli:1") == "cli:1"
    assert resolve_bootstrap() == "env:9092"
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS")
    with pytest.raises(NoKafka, match="KAFKA_BOOTSTRAP_SERVERS"):
        resolve_bootstrap(state_dir=tmp_path)  # no state file
    stale = broker.BrokerState(2**22 + 12345, "127.0.0.1:1", 1, 2, "cid", str(tmp_path), "log", 0.0)
    stale.save()
    with pytest.raises(NoKafka):  # a state file whose process is gone does not count
        resolve_bootstrap(state_dir=tmp_path)


def test_cluster_ids_are_kafka_uuids() -> None:
    for _ in range(200):
        cid = broker.new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_server_properties_are_single_node_kraft(tmp_path: Path) -> None:
    props = dict(
        line.split("=", 1)
        for line in broker.server_properties(tmp_path, 1111, 2222).splitlines()
        if line and not line.startswith("#")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:2222"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1111"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "num.partitions",
    ):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"


def test_broker_url_for_faust() -> None:
    assert broker_url("a:1, b:2") == "kafka://a:1;kafka://b:2"


def test_feed_keys_and_encodes_valid_lines() -> None:
    key, value, valid = prepare_line(ADDED)
    assert valid and key == b"i1"
    assert decode(value, expected="ReportingEvent")[1]["InteractionID"] == "i1"
    key, _, valid = prepare_line(LOGIN)
    assert valid and key == b"a1"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b'{"Event":"EventNope","EventTime":"2026-03-02T09:00:00Z","TenantID":"t1","AgentID":"a7"}', b"a7"),
        (b"not json at all", None),
        (b"\xff\xfe", None),
    ],
)
def test_feed_passes_invalid_lines_through_untouched(line: bytes, key: bytes | None) -> None:
    assert prepare_line(line) == (key, line, False)


def test_tail_renders_records_and_marks_undecodable() -> None:
    _, value, _ = prepare_line(LOGIN)
    assert json.loads(render(value, "t", 0, 5))["EventTime"] == "2026-03-02T09:00:00.000Z"
    marker = json.loads(render(b"garbage", "t", 0, 6))
    assert marker["Undecodable"].startswith("message too short") and marker["Offset"] == 6
    assert marker["Payload"] == "garbage"
    binary = json.loads(render(b"\xc3\x01" + bytes(8) + b"\xff", "t", 1, 7))
    assert "fingerprint" in binary["Undecodable"] and binary["PayloadEncoding"] == "base64"
    assert json.loads(render(None, "t", 0, 8))["Undecodable"]
    assert render(
        encode("DeadLetter", {"Payload": b"x", "ErrorKind": "decode", "Reason": "r", "Time": 0}), "t", 0, 9
    )
