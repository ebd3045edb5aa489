"""Sending a dead letter from a stage: failures are retried, never raised, and a too-large letter shrinks."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from pipeline.records.codec import decode
from pipeline.records.deadletter import MAX_KEY_BYTES
from pipeline.records.errors import BadRecord
from pipeline.stream import dead_letters
from pipeline.stream.dead_letters import send_dead_letter

BAD = BadRecord("decode", "invalid JSON")


class FlakyTopic:
    """A dead-letter topic with a size limit whose broker is away for the first ``outages`` sends."""

    def __init__(self, limit: int, outages: int = 0) -> None:
        self.limit, self.outages = limit, outages
        self.attempts: list[int] = []
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None, value: bytes) -> None:
        self.attempts.append(len(value))
        if self.outages:
            self.outages -= 1
            raise KafkaTimeoutError("broker away")
        if len(value) + len(key or b"") > self.limit:
            try:
                raise MessageSizeTooLargeError("over the topic's max.message.bytes")
            except MessageSizeTooLargeError as exc:  # faust wraps the client's error
                raise RuntimeError("Error while sending") from exc
        self.sent.append((key, value))


def run(topic: FlakyTopic, payload: bytes, key: bytes | None = b"i1") -> dict:
    return asyncio.run(
        send_dead_letter(
            topic.send,
            key,
            payload,
            BAD,
            source_topic="mediastat.events",
            source_partition=0,
            source_offset=5,
            time_ms=lambda: 1,
        )
    )


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dead_letters, "FIRST_PAUSE_S", 0.0)


def test_a_letter_too_large_for_the_topic_is_rebuilt_smaller_until_it_fits() -> None:
    topic = FlakyTopic(limit=100_000)
    got = run(topic, b"#" * 1_050_000)
    assert len(topic.sent) == 1 and len(topic.attempts) > 1
    assert topic.attempts == sorted(topic.attempts, reverse=True)
    sent = decode(topic.sent[0][1])[1]
    assert sent == got and sent["PayloadTruncated"] and sent["PayloadSize"] == 1_050_000


def test_an_unreachable_broker_is_waited_for_not_raised() -> None:
    topic = FlakyTopic(limit=10_000_000, outages=3)
    got = run(topic, b"not json")
    assert len(topic.attempts) == 4 and len(topic.sent) == 1
    assert got["Payload"] == b"not json" and not got["PayloadTruncated"]


def test_a_huge_key_is_cut() -> None:
    topic = FlakyTopic(limit=1_000_000)
    run(topic, b"x", key=b"k" * 500_000)
    assert len(topic.sent[0][0]) == MAX_KEY_BYTES
