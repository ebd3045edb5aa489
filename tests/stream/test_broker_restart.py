"""The broker stops for 20 s while events flow, then starts again: the worker carries on by itself.

On a private broker (its own state dir and ports; never the shared ``KAFKA_BOOTSTRAP_SERVERS`` one,
which other tests use): events fed in three chunks, a worker on the event clock, the broker stopped
for 20 s while the worker is busy with the second chunk, then started again on the same ports with
the same data. Without a restart of the worker:
- every action record of replay is on the actions topic (at least once, identical), none other;
- statistics equal replay's;
- the worker's log during the outage is small (at most 20 lines per 10 s), and says once every
  10 s that Kafka is away, and once that it is back;
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from pipeline.kafka import broker
from tests.conftest import local_broker_unavailable, no_kafka
from tests.golden import OWN
from tests.stream.harness import (
    Pipeline,
    canonical,
    day_file,
    end_offsets,
    run_replay,
    statistics_differences,
)

# Two minutes with its private broker's stop and restart: `pytest -m soak` (left out of make test).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.soak]

OUTAGE_S = 20.0
LINES_PER_10_S = 20


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Path]:
    """The state dir of a broker of this test alone (started; stopped whatever happens)."""
    reason = local_broker_unavailable()
    if reason:
        no_kafka(f"local broker: {reason}")
    state_dir = tmp_path / "broker"
    try:
        broker.start(state_dir, timeout=180, log=lambda _: None)
        yield state_dir
    finally:
        broker.stop(state_dir, log=lambda _: None)


def _chunks(events: Path, parts: int) -> list[Path]:
    lines = events.read_text().splitlines(keepends=True)
    size = math.ceil(len(lines) / parts)
    out = []
    for i in range(parts):
        path = events.with_name(f"chunk{i}.jsonl")
        path.write_text("".join(lines[i * size : (i + 1) * size]))
        out.append(path)
    return out


def _offsets(bootstrap: str, topic: str) -> int:
    """Messages on ``topic`` so far; 0 while the worker is still creating it (not leader yet…)."""
    try:
        return end_offsets(bootstrap, topic)
    except KafkaException:
        return 0


def _log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def test_the_worker_recovers_from_a_broker_restart_losing_nothing(
    private_broker: Path, tmp_path: Path
) -> None:
    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl", agents=10, hours=2.0, per_hour=160)
    want_actions, want_stats = run_replay(events, config)
    total = len(want_actions)
    first, second, third = _chunks(events, 3)
    state = broker.running_state(private_broker)
    assert state is not None
    bootstrap = state.bootstrap

    pipe = Pipeline(bootstrap, tmp_path, config=config, clock="event")
    try:
        pipe.feed(first)
        worker = pipe.start_worker()
        deadline = time.monotonic() + 180
        while _offsets(bootstrap, pipe.topic("actions")) < total // 10 and time.monotonic() < deadline:
            assert worker.poll() is None, pipe.logs()
            time.sleep(0.5)
        pipe.feed(second)

        # The outage, while the worker works on the second chunk.
        before = len(_log_lines(worker.log_path))
        broker.stop(private_broker, log=lambda _: None)
        stopped = time.monotonic()
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, pipe.logs()
        restarted = broker.start(private_broker, timeout=180, log=lambda _: None)
        assert restarted.bootstrap == bootstrap, "the broker came back on other ports"
        away_s = time.monotonic() - stopped
        during = _log_lines(worker.log_path)[before:]

        pipe.feed(third)
        got, got_stats = pipe.collect(worker, total, idle_s=8, timeout_s=300, want_stats=want_stats)
        assert worker.poll() is None, "the worker stopped: " + pipe.logs()
    finally:
        pipe.stop_all()
    logs = pipe.logs()

    # Quiet while away: a bounded number of lines, the "away" warnings and the "back" line.
    bound = LINES_PER_10_S * math.ceil(away_s / 10)
    assert len(during) <= bound, f"{len(during)} log lines in {away_s:.0f} s away:\n" + "\n".join(during[:60])
    warnings = [line for line in during if f"Kafka at {bootstrap} unreachable" in line]
    assert len(warnings) >= 2, "\n".join(during)
    assert len(warnings) <= math.ceil(away_s / 10) + 1, "\n".join(during)
    assert f"Kafka at {bootstrap} reachable again after" in worker.log_path.read_text(errors="replace"), logs

    by_id: dict[str, str] = {}
    for _, rec in got:
        text = canonical(rec)
        assert by_id.setdefault(rec["ActionID"], text) == text, "one ActionID, two different records"
    want_by_id = {a["ActionID"]: canonical(a) for a in want_actions}
    missing = want_by_id.keys() - by_id.keys()
    assert not missing, f"{len(missing)} actions lost over the broker restart\n{logs}"
    assert not by_id.keys() - want_by_id.keys(), f"actions replay does not produce\n{logs}"
    assert by_id == want_by_id
    print(f"away={away_s:.0f}s lines={len(during)} actions={total} delivered={len(got)}")

    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, json.dumps(dict(list(wrong.items())[:10]), indent=1) + "\n" + logs
