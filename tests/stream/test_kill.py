"""Kill tests: SIGKILL the worker mid-stream, restart it, and check nothing was lost or doubled.

The mechanism under test (pipeline/stream/delivery.py, statistics.py): outputs are acknowledged by
Kafka before state is written; state remembers the inputs it holds; stage 2 and 3 acknowledge
inputs only once applied and checkpointed. So after any number of crashes:
- every action record of replay is on the actions topic (at least once, identical, same ActionID);
- no action record that replay does not produce;
- statistics equal replay's (each action counted exactly once).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.golden import OWN
from tests.stream.harness import (
    Pipeline,
    canonical,
    day_file,
    end_offsets,
    run_replay,
    statistics_differences,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def wait_for_offsets(bootstrap: str, topic: str, at_least: int, worker, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline and worker.poll() is None:
        seen = end_offsets(bootstrap, topic)
        if seen >= at_least:
            return seen
        time.sleep(0.2)
    return seen


# The same disk keeps its RocksDB whole; the new disk restores every table from its changelog, the
# harder path (the action made twice came there), kept in `make test`. The same disk runs with
# `pytest -m soak` (about a minute), as the same-disk expiry test does.
@pytest.mark.parametrize(
    "fresh_state_dir",
    [pytest.param(False, marks=pytest.mark.soak), True],
    ids=["same-disk", "new-disk"],
)
def test_killed_workers_lose_nothing_and_count_once(
    kafka_bootstrap: str, tmp_path: Path, fresh_state_dir: bool
) -> None:
    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl", agents=12, hours=2.0, per_hour=200)
    want_actions, want_stats = run_replay(events, config)
    total = len(want_actions)

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    kills = 0
    try:
        pipe.feed(events)
        name = "w0"
        for fraction in (0.15, 0.4, 0.7):
            worker = pipe.start_worker(name)
            reached = wait_for_offsets(kafka_bootstrap, pipe.topic("actions"), int(total * fraction), worker)
            assert worker.poll() is None, pipe.logs()
            pipe.kill(worker)
            kills += 1
            assert reached < total * 1.5, "the crash came too late to test anything"
            if fresh_state_dir:
                name = f"w{kills}"  # a new machine: RocksDB restored from the changelog topics
        worker = pipe.start_worker(name)
        got, got_stats = pipe.collect(worker, total, idle_s=8, timeout_s=240, want_stats=want_stats)
    finally:
        pipe.stop_all()
    logs = pipe.logs()

    by_id: dict[str, str] = {}
    for _, rec in got:
        text = canonical(rec)
        assert by_id.setdefault(rec["ActionID"], text) == text, "one ActionID, two different records"
    want_by_id = {a["ActionID"]: canonical(a) for a in want_actions}
    missing = want_by_id.keys() - by_id.keys()
    extra = by_id.keys() - want_by_id.keys()
    assert not missing, f"{len(missing)} actions lost after {kills} kills\n{logs}"
    assert not extra, f"{len(extra)} actions replay does not produce\n{logs}"
    assert by_id == want_by_id
    duplicates = len(got) - len(by_id)
    print(f"kills={kills} actions={total} delivered={len(got)} repeats={duplicates}")

    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, json.dumps(dict(list(wrong.items())[:10]), indent=1) + "\n" + logs
    assert Counter(r["Reason"] for _, r in got_stats)["Change"] > 0
