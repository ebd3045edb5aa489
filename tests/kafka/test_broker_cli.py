"""``mediastat broker start|status|stop`` as a user runs it, in its own state dir.

Needs Java (and Maven or cached jars) but not the shared ``kafka_bootstrap`` broker: it starts,
stops and restarts its own, so it is marked slow as well as integration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.kafka import broker
from pipeline.kafka.admin import ensure_topics
from tests.conftest import local_broker_unavailable, no_kafka

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _mediastat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def state_dir(tmp_path: Path):
    reason = local_broker_unavailable()
    if reason:
        no_kafka(f"local broker: {reason}")
    path = tmp_path / "broker"
    yield path
    broker.stop(path, log=lambda _: None)  # never leave a JVM behind, whatever failed


def test_start_status_stop_restart_without_maven(state_dir: Path, tmp_path: Path) -> None:
    first = _mediastat("broker", "start", "--state-dir", str(state_dir))
    assert first.returncode == 0, first.stderr
    status = _mediastat("broker", "status", "--state-dir", str(state_dir))
    assert status.returncode == 0 and status.stdout.startswith("running"), status.stdout + status.stderr
    state = broker.running_state(state_dir)
    assert state is not None and f"bootstrap {state.bootstrap}" in status.stdout
    topic = f"test.keep.{uuid.uuid4().hex[:8]}"
    ensure_topics(state.bootstrap, [topic])

    again = _mediastat("broker", "start", "--state-dir", str(state_dir))
    assert again.returncode == 0 and "already running" in again.stderr

    stop = _mediastat("broker", "stop", "--state-dir", str(state_dir))
    assert stop.returncode == 0, stop.stderr
    down = _mediastat("broker", "status", "--state-dir", str(state_dir))
    assert down.returncode == 1 and down.stdout.strip() == "not running"

    # A second start must come from the jar cache: a Maven that would leave a trace must not run.
    trace = tmp_path / "mvn-was-run"
    fake_mvn = tmp_path / "fake-mvn"
    fake_mvn.write_text(f"#!/bin/sh\ntouch {trace}\nexit 1\n")
    fake_mvn.chmod(0o755)
    restart = _mediastat(
        "broker", "start", "--state-dir", str(state_dir), env={"MEDIASTAT_MVN": str(fake_mvn)}
    )
    assert restart.returncode == 0, restart.stderr
    assert not trace.exists()
    assert "resolving" not in restart.stderr
    # Data survives a restart: same cluster, topic still there.
    restarted = broker.running_state(state_dir)
    assert restarted is not None and restarted.cluster_id == state.cluster_id
    from confluent_kafka.admin import AdminClient

    assert topic in AdminClient({"bootstrap.servers": restarted.bootstrap}).list_topics(timeout=10).topics

    assert _mediastat("broker", "stop", "--state-dir", str(state_dir)).returncode == 0
    assert broker.running_state(state_dir) is None


def test_a_dying_jvm_is_reported_with_the_log_tail(state_dir: Path) -> None:
    with pytest.raises(broker.BrokerError) as info:
        broker.start(state_dir, heap="not-a-size", timeout=30, log=lambda _: None)
    message = str(info.value)
    assert "exited with code" in message and "last lines of" in message
    assert "Invalid" in message or "heap" in message.lower()
