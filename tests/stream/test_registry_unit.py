"""The stages with Schema Registry framing, without a broker: stage 1's input decoding, dead letters,
an unreachable registry, and the worker's options → Settings."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pipeline.records import codec
from pipeline.records.errors import BadRecord
from pipeline.records.serialization import Registry, RegistryUnavailable, registry_client
from pipeline.stream.dead_letters import send_dead_letter
from pipeline.stream.interactions import decode_event
from tests.records.samples import FULL


def mock_url() -> str:
    return f"mock://unit-{uuid.uuid4().hex[:8]}"


def test_stage1_reads_both_framings_and_json_and_refuses_an_unknown_schema_id() -> None:
    registry = Registry(mock_url())
    event = FULL["ReportingEvent"]
    framed = registry.encode("ReportingEvent", event, "p.events")
    want = codec.decode(codec.encode("ReportingEvent", event))[1]
    assert decode_event(framed, registry, "p.events") == want
    assert decode_event(codec.encode("ReportingEvent", event), registry, "p.events") == want
    assert decode_event(b'{"Event": "EventAgentLogin"}', registry, "p.events") == {"Event": "EventAgentLogin"}
    with pytest.raises(BadRecord) as caught:  # what stage 1 dead-letters, with this reason
        decode_event(b"\x00\x00\x00\x10\x92\x02ab", registry, "p.events")
    assert caught.value.kind == "decode" and caught.value.reason.startswith("unknown schema id 4242:")


def test_a_dead_letter_is_framed_by_the_stage_serialization() -> None:
    registry = Registry(mock_url())
    sent: list[tuple[bytes | None, bytes]] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append((key, value))

    letter = asyncio.run(
        send_dead_letter(
            send,
            b"i1",
            b"\x00\x00\x00\x10\x92",
            BadRecord("decode", "unknown schema id 4242"),
            source_topic="p.events",
            source_partition=0,
            source_offset=7,
            time_ms=lambda: 1,
            encode=lambda letter: registry.encode("DeadLetter", letter, "p.dead-letters"),
        )
    )
    [(key, value)] = sent
    assert key == b"i1" and value[:1] == b"\x00"
    assert registry.decode(value, "p.dead-letters", expected="DeadLetter")[1] == {
        **letter,
        "PayloadSize": letter.get("PayloadSize"),
    }


class AwayThenBack:
    """A registry client whose server is away for the first ``outages`` questions."""

    def __init__(self, real, outages: int) -> None:
        self.real, self.outages, self.asked = real, outages, 0
        self.questions: list[tuple] = []

    def get_schema(self, schema_id: int, subject_name: str | None = None, fmt: str | None = None):
        self.asked += 1
        self.questions.append((schema_id, subject_name, fmt))
        if self.outages:
            self.outages -= 1
            raise ConnectionError("connection refused")
        return self.real.get_schema(schema_id, subject_name, fmt)


def test_a_patient_reader_waits_for_an_unreachable_registry_and_a_tool_does_not() -> None:
    url = mock_url()
    framed = Registry(url).encode("ActionRecord", FULL["ActionRecord"], "p.actions")
    patient = Registry(url, client=AwayThenBack(registry_client(url), outages=3), patient=True)
    pauses: list[float] = []
    patient._sleep = pauses.append
    assert patient.decode(framed, "p.actions")[1]["ActionID"] == FULL["ActionRecord"]["ActionID"]
    assert pauses == [0.5, 1.0, 2.0]
    assert patient.client.asked == 5  # 4 by the reader, 1 by the deserializer:
    # the very same question, which a real client answers from its cache (keyed by id and subject)
    assert patient.client.questions[-1] == patient.client.questions[-2] == (1, "p.actions-value", None)
    impatient = Registry(url, client=AwayThenBack(registry_client(url), outages=1))
    with pytest.raises(RegistryUnavailable, match="connection refused"):  # not a BadRecord: no dead letter
        impatient.decode(framed, "p.actions")


def test_the_worker_options_choose_the_registry_and_what_it_registers_at_start(monkeypatch) -> None:
    import pipeline.kafka.admin
    from pipeline.cli import build_parser
    from pipeline.stats.config import load_config
    from pipeline.stream.worker import settings_from, written_records

    monkeypatch.setattr(pipeline.kafka.admin, "partition_counts", lambda bootstrap, names: {})
    url = mock_url()
    args = build_parser().parse_args(
        ["worker", "--prefix", "p", "--serialization", "registry", "--schema-registry-url", url]
    )
    config = load_config(None)
    settings = settings_from(args, "127.0.0.1:9", config)
    assert isinstance(settings.serialization, Registry)
    assert (settings.serialization.name, settings.serialization.url) == ("registry", url)
    assert settings.serialization.patient
    pairs = written_records(settings)
    assert pairs[:3] == [
        ("ActionRecord", "p.actions"),
        ("DeadLetter", "p.dead-letters"),
        ("LateRecord", "p.late"),
    ]
    assert sorted(pairs[3:]) == sorted(("StatValue", f"p.stat.{name}") for name in config.stat_types)
    default = settings_from(build_parser().parse_args(["worker", "--prefix", "p"]), "127.0.0.1:9", config)
    assert default.serialization.name == "single-object"
