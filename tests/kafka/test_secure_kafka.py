"""``topics``, ``feed``, ``tail`` and the worker against a real broker over SASL/SCRAM and TLS, as a user
runs them (subprocesses, a properties file or ``KAFKA_*`` variables), and a wrong password refused.

The broker is the private one of the ``secure_kafka`` fixture. What the commands wrote is checked
through its PLAINTEXT listener, behind the clients' backs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.golden import OWN
from tests.kafka.secure_broker import USERS, SecureKafka
from tests.stream.harness import canonical, end_offsets, read_topics, run_replay

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EVENTS = OWN / "routed-emails.events.jsonl"
CONFIG = OWN / "routed-emails.stats.yaml"


def scram(kafka: SecureKafka, *, password: str = USERS["alice"], tls: bool = False) -> dict[str, str]:
    """librdkafka properties of user alice over SCRAM-SHA-256 (SASL_SSL with ``tls``)."""
    props = {
        "bootstrap.servers": kafka.sasl_ssl if tls else kafka.sasl_plaintext,
        "security.protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "alice",
        "sasl.password": password,
    }
    if tls:
        props["ssl.ca.location"] = str(kafka.ca)
    return props


def tls_env(kafka: SecureKafka) -> dict[str, str]:
    """TLS through the environment only (no file): the other way of configuring the clients."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.ssl,
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_LOCATION": str(kafka.ca),
    }


class Commands:
    """``mediastat`` subprocesses with one topic prefix and a clean Kafka environment."""

    def __init__(self, kafka: SecureKafka, workdir: Path, env: dict[str, str], config: Path | None) -> None:
        self.kafka, self.workdir = kafka, workdir
        self.prefix = "s" + uuid.uuid4().hex[:10]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MEDIASTAT_KAFKA"))}
        self.env = {**base, **env, "MEDIASTAT_TOPIC_PREFIX": self.prefix}
        self.options = ["--kafka-config", str(config)] if config else []

    def topic(self, kind: str) -> str:
        return f"{self.prefix}.{kind}"

    def argv(self, command: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "pipeline.cli", command, *args, *self.options]

    def run(self, command: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command, *args), cwd=REPO, capture_output=True, text=True, timeout=timeout, env=self.env
        )

    def start_worker(self, web_port: int = -1) -> subprocess.Popen:
        log = open(self.workdir / f"{self.prefix}-worker.log", "w")
        args = ["--app-id", f"{self.prefix}-app", "--data-dir", str(self.workdir / self.prefix)]
        args += ["--config", str(CONFIG), "--clock", "event", "--loglevel", "warning"]
        args += ["--web-port", str(web_port)]
        return subprocess.Popen(
            self.argv("worker", *args), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=self.env
        )


def wallboard_health(log_path: Path, worker: subprocess.Popen, timeout_s: float = 90.0) -> dict:
    """The worker's ``/health`` once its reader has read statistics (or the last answer at the timeout)."""
    deadline = time.monotonic() + timeout_s
    health: dict = {}
    while time.monotonic() < deadline and worker.poll() is None:
        found = re.search(r"wallboard: (http://127\.0\.0\.1:\d+/)", log_path.read_text(errors="replace"))
        if found:
            with urllib.request.urlopen(found.group(1) + "health", timeout=10) as answer:
                health = json.loads(answer.read())
            if health.get("statistic_records_read"):
                return health
        time.sleep(1)
    return health


def _connections(kafka: SecureKafka, tmp_path: Path) -> dict[str, tuple[dict[str, str], Path | None]]:
    """Name → (environment, properties file) of each secured way in."""
    name = tmp_path.name
    return {
        "SASL_PLAINTEXT": ({}, kafka.properties_file(f"sasl-{name}.properties", scram(kafka))),
        "SSL": (tls_env(kafka), None),
        "SASL_SSL": ({}, kafka.properties_file(f"sasl-ssl-{name}.properties", scram(kafka, tls=True))),
    }


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SSL", "SASL_SSL"])
def test_topics_feed_and_tail_over_a_secured_listener(
    secure_kafka: SecureKafka, tmp_path: Path, protocol: str
) -> None:
    env, config = _connections(secure_kafka, tmp_path)[protocol]
    cmd = Commands(secure_kafka, tmp_path, env, config)

    topics = cmd.run("topics", "--stat-type", "Handled")
    assert topics.returncode == 0, topics.stderr
    assert f"created {cmd.topic('events')}" in topics.stdout
    assert f"({protocol}" in topics.stderr  # "topics ready on 127.0.0.1:… (SASL_PLAINTEXT, SCRAM-…"
    assert USERS["alice"] not in topics.stdout + topics.stderr

    fed = cmd.run("feed", str(EVENTS))
    assert fed.returncode == 0, fed.stderr
    assert "fed 15 events" in fed.stderr
    assert end_offsets(secure_kafka.plaintext, cmd.topic("events")) == 15  # really on the broker

    tail = cmd.run("tail", "events", "--from-beginning", "--max", "15", "--timeout", "30")
    assert tail.returncode == 0, tail.stderr
    got = [json.loads(line) for line in tail.stdout.splitlines()]
    sent = [json.loads(line) for line in EVENTS.read_text().splitlines() if line.strip()]
    def ids(events: list[dict]) -> list[tuple]:
        return [(e["Event"], e["EventTime"], e.get("InteractionID"), e.get("AgentID")) for e in events]

    assert ids(got) == ids(sent)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SSL"])
def test_a_worker_over_a_secured_listener_turns_events_into_actions(
    secure_kafka: SecureKafka, tmp_path: Path, protocol: str
) -> None:
    """faust (aiokafka) with the same settings as the confluent clients: events in, actions out; and
    the wallboard's reader (aiokafka too) reads the statistic topics through the same listener."""
    want, _ = run_replay(EVENTS, CONFIG)
    env, config = _connections(secure_kafka, tmp_path)[protocol]
    cmd = Commands(secure_kafka, tmp_path, env, config)
    fed = cmd.run("feed", str(EVENTS))
    assert fed.returncode == 0, fed.stderr
    worker = cmd.start_worker(web_port=0)
    log_path = tmp_path / f"{cmd.prefix}-worker.log"
    try:
        got = read_topics(
            secure_kafka.plaintext,
            [cmd.topic("actions")],
            want=len(want),
            idle_s=3,
            timeout_s=150,
            alive=lambda: worker.poll() is None,
        )
        health = wallboard_health(log_path, worker)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    log = log_path.read_text(errors="replace")
    assert sorted(canonical(r) for _, r in got) == sorted(map(canonical, want)), log[-3000:]
    assert health["statistic_records_read"] > 0 and health["values"] > 0, (health, log[-3000:])
    assert f"on {env.get('KAFKA_BOOTSTRAP_SERVERS') or secure_kafka.sasl_plaintext} ({protocol}" in log
    assert USERS["alice"] not in log


@pytest.mark.parametrize("command", ["feed", "topics", "tail", "worker"])
def test_a_wrong_password_is_one_clear_line_a_failure_and_nothing_written(
    secure_kafka: SecureKafka, tmp_path: Path, command: str
) -> None:
    right = secure_kafka.properties_file(f"good-{command}.properties", scram(secure_kafka))
    wrong = secure_kafka.properties_file(f"wrong-{command}.properties", scram(secure_kafka, password="nope"))
    good = Commands(secure_kafka, tmp_path, {}, right)
    assert good.run("topics").returncode == 0
    before = end_offsets(secure_kafka.plaintext, good.topic("events"))
    bad = Commands(secure_kafka, tmp_path, {}, wrong)
    bad.prefix, bad.env["MEDIASTAT_TOPIC_PREFIX"] = good.prefix, good.prefix  # the same topics
    args = {
        "feed": [str(EVENTS)],
        "topics": ["--stat-type", "Fresh"],
        "tail": ["events", "--timeout", "5"],
        "worker": ["--data-dir", str(tmp_path / "w"), "--web-port", "-1", "--app-id", f"{good.prefix}-app"],
    }

    done = bad.run(command, *args[command], timeout=60)

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"mediastat {command}: Kafka at {secure_kafka.sasl_plaintext} "), lines
    assert "SCRAM-SHA-256 as alice) refused the login" in lines[0] and "invalid credentials" in lines[0]
    assert "nope" not in done.stderr and done.stdout == ""
    assert end_offsets(secure_kafka.plaintext, good.topic("events")) == before  # nothing written
    from confluent_kafka.admin import AdminClient

    names = AdminClient({"bootstrap.servers": secure_kafka.plaintext}).list_topics(timeout=10).topics
    assert good.topic("stat.Fresh") not in names  # topics created nothing


def test_an_untrusted_broker_certificate_is_one_clear_line(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    """TLS without our CA: the broker's certificate cannot be verified, and the command says so."""
    cmd = Commands(secure_kafka, tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": secure_kafka.ssl,
                                            "KAFKA_SECURITY_PROTOCOL": "SSL"}, None)
    done = cmd.run("topics", timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"mediastat topics: TLS with Kafka at {secure_kafka.ssl} (SSL) failed"), lines
    assert "certificate verify failed" in lines[0]
