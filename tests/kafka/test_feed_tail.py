"""``mediastat feed`` then ``mediastat tail`` against a real broker, as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.kafka.admin import ensure_topics

pytestmark = pytest.mark.integration



def _mediastat(*args: str, bootstrap: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_feed_then_tail(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"test.feed.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic])
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b'{"Event":"EventAgentLogin","EventTime":"2026-03-02T09:00:00.000Z","TenantID":"t1","AgentID":"a1"}\n'
        b"\n"
        b'{"Event":"EventBogus","EventTime":"2026-03-02T09:00:01.000Z","TenantID":"t1"}\r\n'
        b'{"Event":"EventInteractionSubmitted","EventTime":"2026-03-02T09:01:00Z","TenantID":"t1",'
        b'"InteractionID":"i1","MediaTypeID":"Email"}\n'
        b"\xff not utf-8\n"
    )
    fed = _mediastat("feed", str(events), "--topic", topic, bootstrap=kafka_bootstrap)
    assert fed.returncode == 0, fed.stderr
    assert "fed 4 events" in fed.stderr and "2 invalid" in fed.stderr

    tail = _mediastat(
        "tail",
        topic,
        "--from-beginning",
        "--max",
        "4",
        "--timeout",
        "20",
        "--keys",
        bootstrap=kafka_bootstrap,
    )
    assert tail.returncode == 0, tail.stderr
    lines = [line.split("\t", 1) for line in tail.stdout.splitlines()]
    assert [key for key, _ in lines] == ["a1", "", "i1", ""]
    records = [json.loads(body) for _, body in lines]
    assert records[0]["Event"] == "EventAgentLogin" and records[0]["EventTime"] == "2026-03-02T09:00:00.000Z"
    assert records[1]["Payload"].startswith('{"Event":"EventBogus"') and "marker" in records[1]["Undecodable"]
    assert records[2]["MediaTypeID"] == "email"  # normalised by validation before encoding
    assert records[3]["PayloadEncoding"] == "base64"
