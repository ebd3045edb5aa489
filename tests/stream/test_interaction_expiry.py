"""Stage 1 forgets finished interactions after their retention, also those it finished before a restart.

The retention rule (``core.driver.DEFAULT_RETENTION_MS``, one hour of event time): a finished
interaction's state is deleted when stage 1 handles an interaction event of the same partition
whose EventTime is at least an hour after the interaction's ``EventProcessingStopped``. The test
finishes six interactions ten minutes apart, stops the worker, starts it again on the same state
directory (or on a new one) and sends one event late enough for four of them to be past retention.
The table's real state is read twice: from the worker's RocksDB files and its changelog topic.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from rocksdict import Options, Rdict

from pipeline.core.driver import DEFAULT_RETENTION_MS
from pipeline.records.times import to_iso
from pipeline.replay import iter_source, replay
from pipeline.stats.config import load_config
from tests.golden import scenario
from tests.stream.harness import Pipeline, read_topics

pytestmark = pytest.mark.integration

T0 = 1772442000000  # 2026-03-02T09:00:00Z
MINUTE = 60_000
N = 6


def interaction(name: str, start: int, stop: int | None) -> list[str]:
    base = {"TenantID": "t1", "InteractionID": name, "MediaTypeID": "email"}
    lines = [
        {
            "Event": "EventInteractionSubmitted",
            "EventTime": to_iso(start),
            **base,
            "InteractionType": "Inbound",
            "InteractionSubtype": "InboundNew",
            "Queue": "q_in",
        }
    ]
    if stop is not None:
        lines.append({"Event": "EventProcessingStopped", "EventTime": to_iso(stop), **base})
    return [json.dumps(line) for line in lines]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def action_count(path: Path, config: Path) -> int:
    return replay(iter_source(path), load_config(config)).actions


def changelog_state(bootstrap: str, topic: str) -> dict[str, dict | None]:
    """The latest value of every key of a changelog topic (None: deleted)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "cl-" + uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
        }
    )
    out: dict[str, dict | None] = {}
    try:
        consumer.subscribe([topic])
        idle = 0
        while idle < 10:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                idle += 1
                continue
            idle = 0
            value = msg.value()
            out[msg.key().decode()] = None if value is None else json.loads(value)
    finally:
        consumer.close()
    return out


def rocksdb_state(data_dir: Path) -> dict[str, dict]:
    paths = list(data_dir.glob("**/interactions-0.db"))
    assert len(paths) == 1, paths
    db = Rdict(str(paths[0]), options=Options(raw_mode=True))
    try:
        stored = dict(db.items())
    finally:
        db.close()
    stored.pop(b"__faust\x00offset__", None)
    return {k.decode(): json.loads(v) for k, v in stored.items()}


# make test runs the new disk (states restored from the changelog); the same disk with -m soak
@pytest.mark.parametrize("disk", [pytest.param("same", marks=pytest.mark.soak), "new"])
def test_finished_interactions_expire_after_a_restart(
    kafka_bootstrap: str, tmp_path: Path, disk: str
) -> None:
    """``same``: the worker restarts on its RocksDB files; ``new``: on an empty directory, the
    table recovered from its changelog (another machine)."""
    config = scenario("routed-emails.stats.yaml")
    # i0..i5 stop at 09:01, 09:11, …, 09:51: all within the hour of each other, none expires yet.
    stops = {f"i{k}": T0 + (10 * k + 1) * MINUTE for k in range(N)}
    first = write(
        tmp_path / "first.jsonl",
        [line for name, stop in stops.items() for line in interaction(name, stop - MINUTE, stop)],
    )
    # After the restart one new interaction at 10:35: i0..i3 (stopped by 09:31) are past retention,
    # i4 and i5 (09:41, 09:51) are not.
    later = T0 + 95 * MINUTE
    second = write(tmp_path / "second.jsonl", interaction("late", later, None))
    expired = {name for name, stop in stops.items() if stop + DEFAULT_RETENTION_MS <= later}
    assert expired == {"i0", "i1", "i2", "i3"}
    first_actions = action_count(first, config)
    both = write(tmp_path / "both.jsonl", first.read_text().splitlines() + second.read_text().splitlines())
    all_actions = action_count(both, config)
    assert all_actions > first_actions > 0

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config)
    try:
        pipe.feed(first)
        worker = pipe.start_worker("w1")
        got = read_topics(
            kafka_bootstrap,
            [pipe.topic("actions")],
            want=first_actions,
            idle_s=3,
            timeout_s=120,
            alive=lambda: worker.poll() is None,
        )
        assert len(got) == first_actions, pipe.logs()
        pipe.stop_all()
        before = rocksdb_state(tmp_path / "w1")
        assert set(before) == {f"t1/{name}" for name in stops}, before.keys()

        pipe.feed(second)
        restarted = "w1" if disk == "same" else "w2"
        worker = pipe.start_worker(restarted)
        got = read_topics(
            kafka_bootstrap,
            [pipe.topic("actions")],
            want=all_actions,
            idle_s=3,
            timeout_s=120,
            alive=lambda: worker.poll() is None,
        )
        assert len(got) == all_actions, pipe.logs()
    finally:
        pipe.stop_all()
    want = {f"t1/{name}" for name in [*stops, "late"] if name not in expired}
    assert set(rocksdb_state(tmp_path / restarted)) == want, pipe.logs()
    changelog = changelog_state(kafka_bootstrap, f"{pipe.app_id}-interactions-changelog")
    assert {key for key, value in changelog.items() if value is not None} == want
    assert {key for key, value in changelog.items() if value is None} == {f"t1/{n}" for n in expired}
