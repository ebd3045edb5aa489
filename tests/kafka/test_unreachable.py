"""Every command that talks to Kafka, pointed at an unreachable address: one line naming the address
and the cause, a non-zero exit, within 10 s — no traceback, no librdkafka lines, no "0 messages".

Two kinds of unreachable, neither needing a broker: a closed port (refused at once), and a port
that never answers (a listening socket whose backlog is full, so the kernel ignores new connection
attempts, as a firewalled or non-routable address does), which must hit the check's time bound.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.kafka.bootstrap import Unreachable, check_reachable, servers
from tests.golden import OWN

REPO = Path(__file__).resolve().parents[2]
EVENTS = OWN / "routed-emails.events.jsonl"

COMMANDS = {
    "topics": ["topics"],
    "feed": ["feed", str(EVENTS)],
    "tail": ["tail", "actions"],
    "tail --timeout": ["tail", "actions", "--timeout", "10"],
    "worker": ["worker", "--web-port", "-1"],
    "simulate --live": ["simulate", "--live"],
}


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connection attempts get no answer at all: backlog 0, already full."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = [socket.create_connection(("127.0.0.1", port), timeout=2)]
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        held.append(probe)  # a kernel that accepts anyway: fill the queue further
        for _ in range(8):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
    except OSError:
        probe.close()
    try:
        yield port
    finally:
        for sock in held:
            sock.close()
        server.close()


def _run(args: list[str], address: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": address,
        "MEDIASTAT_HOME": str(tmp_path / "home"),
        "MEDIASTAT_TOPIC_PREFIX": "unreachable",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return done, time.monotonic() - started


def _assert_one_line(done: subprocess.CompletedProcess, address: str, cause: str) -> None:
    lines = done.stderr.splitlines()
    assert done.returncode != 0, done.stderr
    assert len(lines) == 1, done.stderr[-3000:]
    assert f"cannot reach Kafka at {address}: {cause}" in lines[0], lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_port_gets_one_line_and_a_non_zero_exit(
    command: str, closed_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{closed_port}"
    done, elapsed = _run(COMMANDS[command], address, tmp_path)
    _assert_one_line(done, address, "connection refused")
    assert elapsed < 10, f"{command} took {elapsed:.1f} s"


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_an_address_that_does_not_answer_is_given_up_within_10_s(
    command: str, silent_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{silent_port}"
    done, elapsed = _run(COMMANDS[command], address, tmp_path)
    _assert_one_line(done, address, "no answer within")
    assert elapsed < 10, f"{command} took {elapsed:.1f} s"


def test_a_port_that_is_not_kafka_fails_the_metadata_step(tmp_path: Path) -> None:
    """TCP connects, but nothing answers a Kafka request: the check still ends, with a cause."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    try:
        with pytest.raises(Unreachable, match=rf"cannot reach Kafka at 127\.0\.0\.1:{port}: .+"):
            check_reachable(f"127.0.0.1:{port}", timeout=2.0)
    finally:
        server.close()


def test_bootstrap_lists_are_parsed() -> None:
    assert servers("a:1, b:2") == [("a", 1), ("b", 2)]
    assert servers("PLAINTEXT://k1:9093,[::1]:9094,host") == [("k1", 9093), ("::1", 9094), ("host", 9092)]
    with pytest.raises(Unreachable, match="not host:port"):
        servers("host:port")
    with pytest.raises(Unreachable, match="no host:port"):
        servers(" , ")


def test_one_answering_server_is_enough(closed_port: int) -> None:
    """A list with a dead server first and a live one (here: a listening socket) passes TCP."""
    from pipeline.kafka.bootstrap import tcp_reachable

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        targets = [("127.0.0.1", closed_port), ("127.0.0.1", server.getsockname()[1])]
        assert tcp_reachable(targets, timeout=2.0) is None
        assert tcp_reachable(targets[:1], timeout=2.0) == "connection refused"
    finally:
        server.close()
