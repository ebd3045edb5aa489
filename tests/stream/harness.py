"""Run the real pipeline for tests: feed a file, start/stop/kill worker processes, read topics; and
the replay side the broker tests compare with (the same events, the records and values expected)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.records.codec import decode
from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from tests.golden import OWN, scenario_names

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Pipeline:
    """One isolated pipeline on a shared broker: its own topic prefix, consumer group and state dir."""

    bootstrap: str
    workdir: Path
    config: Path | None = None
    clock: str = "event"
    prefix: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-app"

    def topic(self, kind: str) -> str:
        return f"{self.prefix}.{kind}"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env=self._env(),
        )

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MEDIASTAT_TOPIC_PREFIX": self.prefix,
        }

    def feed(self, path: Path) -> None:
        done = self.cli("feed", str(path))
        assert done.returncode == 0, done.stderr

    def start_worker(
        self, name: str = "w1", web_port: int = -1, extra: Iterable[str] = ()
    ) -> subprocess.Popen:
        args = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "worker",
            "--app-id",
            self.app_id,
            "--data-dir",
            str(self.workdir / name),
            "--clock",
            self.clock,
            "--loglevel",
            "warning",
            "--web-port",
            str(web_port),
        ]
        if self.config is not None:
            args += ["--config", str(self.config)]
        args += list(extra)  # more worker options
        log = open(self.workdir / f"{name}.log", "a")
        proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        proc.log_path = self.workdir / f"{name}.log"  # type: ignore[attr-defined]
        self.workers.append(proc)
        return proc

    def web_url(self, proc: subprocess.Popen, timeout_s: float = 90.0) -> str:
        """The ``wallboard: URL`` a worker started with a web port prints (ends with a slash)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(
                r"wallboard: (http://127\.0\.0\.1:\d+/)", proc.log_path.read_text(errors="replace")
            )
            if found:
                return found.group(1)
            assert proc.poll() is None, proc.log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        raise AssertionError("the worker printed no wallboard URL")

    def kill(self, proc: subprocess.Popen) -> None:
        """A crash: SIGKILL, no chance to flush or commit."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def collect(
        self,
        worker: subprocess.Popen,
        want: int,
        *,
        idle_s: float = 6.0,
        timeout_s: float = 180.0,
        want_stats: list[dict] | None = None,
        settle_s: float = 120.0,
    ) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        """The actions (``want`` of them, while ``worker`` lives), then every statistic record.

        With ``want_stats`` (replay's records), the statistic topics are read again, for at most
        ``settle_s`` while the worker lives, until their latest values are replay's: stage 3 applies
        the last actions only when stage 2's final watermark comes, which after restarts can take
        longer than one quiet spell of the topics. A value that is really wrong stays wrong and the
        caller's comparison fails.
        """
        actions = read_topics(
            self.bootstrap,
            [self.topic("actions")],
            want=want,
            idle_s=idle_s,
            timeout_s=timeout_s,
            alive=lambda: worker.poll() is None,
        )
        stat_topics = [self.topic(f"stat.{n}") for n in load_config(self.config).stat_types]
        stats = read_topics(self.bootstrap, stat_topics, idle_s=idle_s, timeout_s=90)
        deadline = time.monotonic() + settle_s
        while (
            want_stats is not None
            and statistics_differences(stats, want_stats)
            and time.monotonic() < deadline
            and worker.poll() is None
        ):
            time.sleep(3)
            stats = read_topics(self.bootstrap, stat_topics, idle_s=3, timeout_s=90)
        return actions, stats

    def logs(self) -> str:
        return "\n".join(
            p.log_path.read_text(errors="replace")[-3000:]
            for p in self.workers  # type: ignore[attr-defined]
        )


def read_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    want: int | None = None,
    idle_s: float = 8.0,
    timeout_s: float = 120.0,
    alive=None,
) -> list[tuple[str, dict]]:
    """Every record of ``topics`` from the start, decoded, in partition order.

    Stops after ``want`` records (and ``idle_s`` without more), or after ``idle_s`` of silence when
    ``want`` is None, or at ``timeout_s``.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader-" + uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    out: list[tuple[str, dict]] = []
    try:
        consumer.subscribe(list(topics))
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if time.monotonic() - last > idle_s and (want is None or len(out) >= want):
                    break
                if alive is not None and not alive():
                    break
                continue
            try:
                out.append((msg.topic(), decode(msg.value())[1]))
            except Exception:
                out.append(
                    (msg.topic(), {"raw": msg.value(), "partition": msg.partition(), "offset": msg.offset()})
                )
            last = time.monotonic()
    finally:
        consumer.close()
    return out


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 30.0) -> int:
    """Records ever written to ``topic`` (sum of its partitions' end offsets).

    A topic created a moment ago may have no leader yet (``NOT_LEADER_FOR_PARTITION``,
    ``UNKNOWN_TOPIC_OR_PART``): those are asked again until ``timeout_s``.
    """
    from confluent_kafka import KafkaError, KafkaException

    transient = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets-" + uuid.uuid4().hex})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                meta = consumer.list_topics(topic, timeout=10).topics[topic]
                total = 0
                for p in meta.partitions:
                    _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                    total += high
                return total
            except KafkaException as exc:
                if exc.args[0].code() not in transient or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


# --- the replay side ------------------------------------------------------------------------------


def canonical(record: dict) -> str:
    """Avro gives absent optional fields as null; JSON output omits them."""
    return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)


def day_file(path: Path, *, agents: int = 6, hours: float = 1.0, per_hour: float = 90) -> Path:
    """The golden scenarios (tests/scenarios) and simulated hours of another tenant, in time order."""
    rows: list[tuple[str, str]] = []
    for name in scenario_names(OWN):
        for line in (OWN / f"{name}.events.jsonl").read_text().splitlines():
            if line.strip():
                rows.append((json.loads(line)["EventTime"], line))
    sim = Simulator(
        agents=agents, hours=hours, per_hour=per_hour, seed=11, tenant="t2", start="2026-05-11T08:00:00Z"
    )
    for event in sim.events():
        rows.append((event["EventTime"], json.dumps(event)))
    rows.sort(key=lambda r: r[0])  # ISO strings of one format sort in time order; sort is stable
    path.write_text("\n".join(line for _, line in rows) + "\n")
    return path


def run_replay(events: Path, config_path: Path) -> tuple[list[dict], list[dict]]:
    actions: list[dict] = []
    stats: list[dict] = []
    replay(iter_source(events), load_config(config_path), on_action=actions.append, on_stat=stats.append)
    return actions, stats


def last_per_key(records: list[dict]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for r in records:
        out[(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"])] = r
    return out


def statistics_differences(got_stats: list[tuple[str, dict]], want_stats: list[dict]) -> dict:
    """Latest live value per statistic and object vs replay's latest notification (not Final)."""
    live = last_per_key([r for _, r in got_stats])
    offline = last_per_key([r for r in want_stats if r["Reason"] != "Final"])
    wrong: dict = {"/".join(k): ("missing", None) for k in offline.keys() - live.keys()}
    wrong.update({"/".join(k): ("unexpected", None) for k in live.keys() - offline.keys()})
    for key in offline.keys() & live.keys():
        have, want = live[key], offline[key]
        if have["IntervalStart"] != want["IntervalStart"] or have["State"] != want["State"]:
            wrong["/".join(key)] = (have["IntervalStart"], want["IntervalStart"])
        elif want["State"] is None and have["Value"] != pytest.approx(want["Value"], abs=1e-6):
            wrong["/".join(key)] = (have["Value"], want["Value"])
    return wrong


class TopicReader:
    """A consumer kept open across the phases of a test: ``until`` reads on from where it stopped.

    For topics that never go quiet (Time notifications on the wall clock), where reading until
    silence, as :func:`read_topics` does, would never end. The topics must exist before it is made.
    """

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "reader-" + uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe(list(topics))
        self.records: list[tuple[str, dict]] = []

    def until(self, done, *, timeout_s: float = 90.0, alive=None) -> bool:
        """Read until ``done(records so far)`` holds (True), or the timeout or a dead worker (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done(self.records):
                return True
            if alive is not None and not alive():
                return False
            msg = self.consumer.poll(0.5)
            if msg is not None and not msg.error():
                self.records.append((msg.topic(), decode(msg.value())[1]))
        return done(self.records)

    def close(self) -> None:
        self.consumer.close()
