"""``mediastat feed`` with lines too large for a Kafka message: dead-lettered, the rest still fed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden import scenario
from tests.stream.harness import Pipeline, read_topics

pytestmark = pytest.mark.integration


def test_lines_too_large_for_a_message_are_dead_lettered_by_feed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    good = scenario("routed-emails.events.jsonl").read_text().splitlines()
    corrupt = "corrupt: " + "#" * 1_050_000
    submitted = json.loads(good[1])
    huge = json.dumps({**submitted, "InteractionID": "i-huge", "UserData": {"blob": "x" * 1_050_000}})
    lines = [good[0], corrupt, *good[1:4], huge, *good[4:]]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")

    pipe = Pipeline(kafka_bootstrap, tmp_path)
    fed = pipe.cli("feed", str(events))
    assert fed.returncode == 0, fed.stderr
    assert "2 too large" in fed.stderr, fed.stderr

    sent = read_topics(kafka_bootstrap, [pipe.topic("events")], want=len(good), idle_s=2, timeout_s=60)
    assert [r["Event"] for _, r in sent] == [json.loads(line)["Event"] for line in good]
    letters = [r for _, r in read_topics(kafka_bootstrap, [pipe.topic("dead-letters")], want=2, idle_s=2)]
    assert [(r["SourceOffset"], r["ErrorKind"]) for r in letters] == [(2, "decode"), (6, "too-large")]
    for letter, line in zip(letters, [corrupt, huge], strict=True):
        assert letter["SourceTopic"] == str(events)
        assert letter["PayloadSize"] == len(line.encode()) and letter["PayloadTruncated"]
        assert line.encode().startswith(letter["Payload"])
