"""A Faust agent with a RocksDB-backed table consumes, updates the table and produces (real broker).

The worker runs in a subprocess (faust owns its event loop and signal handling); the test produces
events, waits for the agent's outputs, stops the worker with SIGTERM and then opens the RocksDB
files itself to check what the table persisted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from pipeline.kafka.admin import ensure_topics
from pipeline.records.codec import decode, encode

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
T0 = 1_772_442_000_000


def _events() -> list[dict]:
    agents = ["a1", "a2", "a1", "a3", "a1", "a2"]
    return [
        {
            "Event": "EventReadyForMedia",
            "EventTime": T0 + i,
            "TenantID": "t1",
            "AgentID": a,
            "MediaTypeID": "chat",
        }
        for i, a in enumerate(agents)
    ]


def test_agent_table_and_output(kafka_bootstrap: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    in_topic, out_topic, app_id = f"test.faust.in.{run}", f"test.faust.out.{run}", f"probe-{run}"
    ensure_topics(kafka_bootstrap, [in_topic, out_topic])
    events = _events()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for event in events:
        producer.produce(in_topic, key=event["AgentID"].encode(), value=encode("ReportingEvent", event))
    assert producer.flush(30) == 0

    data_dir = tmp_path / "state"
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.stream.faust_probe",
                kafka_bootstrap,
                in_topic,
                out_topic,
                str(data_dir),
                app_id,
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    outputs: list[tuple[str, float]] = []
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{run}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([out_topic])
        deadline = time.monotonic() + 45
        while len(outputs) < len(events) and time.monotonic() < deadline and worker.poll() is None:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            _, stat = decode(msg.value(), expected="StatValue")
            outputs.append((msg.key().decode(), stat["Value"]))
    finally:
        consumer.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    log_text = log_path.read_text(errors="replace")[-4000:]
    assert outputs == [
        ("t1/a1", 1.0),
        ("t1/a2", 1.0),
        ("t1/a1", 2.0),
        ("t1/a3", 1.0),
        ("t1/a1", 3.0),
        ("t1/a2", 2.0),
    ], log_text

    # The table's RocksDB files hold the final counts (JSON-serialised keys and values).
    from rocksdict import Options, Rdict

    db_path = next(iter(data_dir.glob("**/counts-0.db")), None)
    assert db_path is not None, f"no RocksDB for table 'counts' under {data_dir}\n{log_text}"
    db = Rdict(str(db_path), options=Options(raw_mode=True))
    try:
        stored = dict(db.items())
    finally:
        db.close()
    offset = stored.pop(b"__faust\x00offset__", None)  # faust keeps the changelog offset beside the data
    assert {json.loads(k): json.loads(v) for k, v in stored.items()} == {"t1/a1": 3, "t1/a2": 2, "t1/a3": 1}
    assert offset == b"5"  # the changelog offset of the last of six table writes
