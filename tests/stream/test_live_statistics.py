"""Live statistics on the event clock equal replay's, record for record, with the shipped starter.

records.md: the Kafka pipeline fed the same events yields the same records as replay. The starter
configuration has what a Growing-only configuration does not exercise: Sliding profiles (the
``*_Last_Hour`` twins, whose values move with the clock), ratios, averages and status subjects. So
this compares the full multiset of statistic records — every notification, not only the latest
value per key — of a worker on the event clock with replay's (without replay's ``Final`` records,
which only replay writes). No notification may differ in count: on the event clock the engine's
clock moves only with the actions, applied in the same order on both sides, and nothing
(statistics.md "Notification") allows a live-only or replay-only record.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from tests.stream.harness import Pipeline, read_topics

pytestmark = pytest.mark.integration

FIELDS = ("Statistic", "ObjectType", "TenantID", "ObjectID", "IntervalStart", "Value", "State", "Reason")


def simulated_day(path: Path) -> Path:
    """What ``mediastat simulate`` writes: a reproducible day, here 8 agents over 1.5 hours (about
    800 events): long enough for the one-hour Sliding windows to drop buckets."""
    sim = Simulator(agents=8, hours=1.5, per_hour=150, seed=5)
    path.write_text("".join(json.dumps(event) + "\n" for event in sim.events()))
    return path


def identity(record: dict) -> tuple:
    return tuple(
        json.dumps(record[f], sort_keys=True) if isinstance(record[f], dict) else record[f] for f in FIELDS
    )


def live_equals_replay(kafka_bootstrap: str, workdir: Path) -> None:
    events = simulated_day(workdir / "day.jsonl")
    config = load_config(None)  # the shipped starter
    want: list[dict] = []
    want_actions: list[dict] = []
    summary = replay(iter_source(events), config, on_stat=want.append, on_action=want_actions.append)
    assert summary.events > 700
    want = [r for r in want if r["Reason"] != "Final"]
    assert {r["Statistic"] for r in want} >= {"Occupancy_Last_Hour", "Accept_Ratio", "Agent_Current_State"}

    pipe = Pipeline(kafka_bootstrap, workdir, config=None, clock="event")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        got = read_topics(
            kafka_bootstrap,
            [pipe.topic(f"stat.{name}") for name in config.stat_types],
            want=len(want),
            idle_s=8,
            timeout_s=1500,  # stops as soon as every record is read; a loaded machine is slow
            alive=lambda: worker.poll() is None,
        )
        actions = read_topics(kafka_bootstrap, [pipe.topic("actions")], want=len(want_actions), idle_s=3)
    finally:
        pipe.stop_all()
    assert sorted(a["ActionID"] for _, a in actions) == sorted(a["ActionID"] for a in want_actions)
    live = Counter(identity(r) for _, r in got)
    offline = Counter(identity(r) for r in want)
    missing, extra = offline - live, live - offline
    assert not missing and not extra, (
        f"live {sum(live.values())} records, replay {sum(offline.values())}; "
        f"missing {sum(missing.values())} e.g. {list(missing)[:3]}; extra {sum(extra.values())} e.g. "
        f"{list(extra)[:3]}",
        pipe.logs(),
    )


# runs 2 and 3 are a loop: `pytest -m soak` (make test runs the first)
@pytest.mark.parametrize(
    "run", [1, pytest.param(2, marks=pytest.mark.soak), pytest.param(3, marks=pytest.mark.soak)]
)
def test_live_statistics_equal_replay_three_runs_in_a_row(
    kafka_bootstrap: str, tmp_path: Path, run: int
) -> None:
    """Three runs, each on a fresh pipeline: a timing-dependent difference shows up in one of them
    (before stage 3 released by watermarks, the count of Change records varied from run to run)."""
    live_equals_replay(kafka_bootstrap, tmp_path)
