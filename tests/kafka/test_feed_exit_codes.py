"""``mediastat feed`` on a file in which no line is an event (binary, gzipped): a non-zero exit and
the number of invalid lines, instead of exit 0 after sending hundreds of undecodable records."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.kafka.admin import ensure_topics
from tests.golden import scenario

pytestmark = pytest.mark.integration


def feed(path: Path, bootstrap: str) -> tuple[subprocess.CompletedProcess[str], str]:
    topic = f"test.feed.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic])
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "feed", str(path), "--topic", topic],
        capture_output=True, text=True, timeout=120, env=env,
    )
    return done, topic


def test_gzipped_events_fail_with_the_invalid_count_and_a_hint(kafka_bootstrap: str, tmp_path: Path) -> None:
    text = scenario("routed-emails.events.jsonl").read_bytes() * 50
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(text))
    done, _ = feed(path, kafka_bootstrap)
    assert done.returncode == 1, done.stderr
    lines = path.read_bytes().split(b"\n")
    invalid = sum(1 for line in lines if line.strip())
    assert f"no line is a valid event ({invalid} invalid)" in done.stderr
    assert "gzip-compressed" in done.stderr


def test_binary_file_fails_with_the_invalid_count(kafka_bootstrap: str, tmp_path: Path) -> None:
    path = tmp_path / "events.bin"
    path.write_bytes(random.Random(3).randbytes(20_000))
    done, _ = feed(path, kafka_bootstrap)
    assert done.returncode == 1, done.stderr
    assert "no line is a valid event (" in done.stderr
    count = done.stderr.split("no line is a valid event (")[1].split(" invalid")[0]
    assert int(count) == sum(1 for line in path.read_bytes().split(b"\n") if line.strip())

