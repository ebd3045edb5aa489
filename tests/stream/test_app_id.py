"""Two pipelines of different prefixes, started without ``--app-id``, never share a consumer group
or changelogs: the app id is the prefix (issue 12). One of them runs with ``--no-create-topics`` on
topics made by ``mediastat topics``, which therefore creates everything the worker needs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def mediastat(bootstrap: str, prefix: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MEDIASTAT_TOPIC_PREFIX": prefix}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, env=env, text=True, **kwargs
    )


def test_two_prefixes_get_two_consumer_groups_and_their_own_changelogs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    a, b = ("ta" + uuid.uuid4().hex[:8]), ("tb" + uuid.uuid4().hex[:8])
    common = ("--clock", "event", "--web-port", "-1", "--loglevel", "warning")
    refused = mediastat(kafka_bootstrap, b, "worker", "--no-create-topics", "--data-dir", str(tmp_path / "x"),
                        *common, stderr=subprocess.PIPE)
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 1 and f"{b}.events" in err and f"{b}-agents-changelog" in err, err
    made = mediastat(kafka_bootstrap, b, "topics", "--replication-factor", "1", stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    out, err = made.communicate(timeout=120)
    assert made.returncode == 0 and f"created {b}-statistics-changelog" in out, err
    workers = []
    logs = {p: open(tmp_path / f"{p}.log", "w") for p in (a, b)}
    try:
        workers.append(mediastat(kafka_bootstrap, a, "worker", "--data-dir", str(tmp_path / a), *common,
                                 stdout=logs[a], stderr=subprocess.STDOUT))
        workers.append(mediastat(kafka_bootstrap, b, "worker", "--no-create-topics", "--data-dir",
                                 str(tmp_path / b), *common, stdout=logs[b], stderr=subprocess.STDOUT))
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        deadline = time.monotonic() + 150
        groups: set[str] = set()
        while time.monotonic() < deadline:
            groups = {g.group_id for g in admin.list_consumer_groups().result(30).valid}
            if {a, b} <= groups:
                break
            assert all(w.poll() is None for w in workers), [
                (tmp_path / f"{p}.log").read_text()[-2000:] for p in (a, b)
            ]
            time.sleep(1)
        assert {a, b} <= groups, [(tmp_path / f"{p}.log").read_text()[-2000:] for p in (a, b)]
        topics = set(admin.list_topics(timeout=30).topics)
        for prefix in (a, b):
            assert {f"{prefix}-{t}-changelog" for t in ("interactions", "agents", "statistics")} <= topics
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        for f in logs.values():
            f.close()
    assert "--no-create-topics" not in (tmp_path / f"{b}.log").read_text()  # it found every topic
