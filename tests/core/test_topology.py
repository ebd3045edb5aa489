"""The topology driver (pipeline/topology.py) runs the real step objects partitioned and moved
around, and gives replay's results.

The property: over simulated multi-agent streams (several groups, queues, one tenant), with 1-8
partitions of the events and agent-inputs topics, any assignment of partitions to workers, any
interleaving of the partitions and random reassignments — between batches, and in the middle of a
batch after its outputs went out (so they go out twice) — every action record replay writes comes
out, identical, and no other (by ActionID: the pipeline delivers at least once); and every latest
statistic value equals replay's (the comparison of the broker tests,
``tests/stream/harness.py::statistics_differences``), for Agent, Place, GroupAgents, GroupPlaces,
Queue and Tenant, Growing and Sliding. The same holds when workers are killed and restored from
changelogs cut short, with offsets committed only now and then; and no ActionID ever comes with two
different records.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.records.validation import validate_event
from pipeline.replay import replay
from pipeline.stats.config import Config
from pipeline.topology import Topology
from tests.stats.test_partitioned import centre
from tests.stream.harness import statistics_differences

STARTS = ("2026-05-11T09:00:00Z", "2026-05-11T23:40:00Z")  # the second crosses midnight


def replayed(events: list[dict], cfg: Config) -> tuple[list[dict], list[dict]]:
    actions: list[dict] = []
    stats: list[dict] = []
    replay(enumerate(events, 1), cfg, on_action=actions.append, on_stat=stats.append,
           future_tolerance_ms=None)
    return actions, stats


def check(events: list[dict], cfg: Config, *, seed: int, events_partitions: int, agent_partitions: int,
          stats_partitions: int = 1, merge_partitions: int = 2, workers: int = 2,
          move_every: int = 0, kill_every: int = 0, commit_every: int = 1) -> dict:
    want_actions, want_stats = replayed(events, cfg)
    topology = Topology(
        cfg,
        events=events_partitions,
        agent_inputs=agent_partitions,
        stats_inputs=stats_partitions,
        stat_partials=merge_partitions,
        workers=workers,
        rng=random.Random(seed),
        move_every=move_every,
        kill_every=kill_every,
        commit_every=commit_every,
    )
    run = topology.run_events([validate_event(dict(e)) for e in events])
    first: dict[str, dict] = {}
    twice = {a["ActionID"] for a in run.actions if first.setdefault(a["ActionID"], a) != a}
    assert not twice, f"{len(twice)} ActionIDs made twice, differently"
    got = {a["ActionID"]: a for a in run.actions}
    want = {a["ActionID"]: a for a in want_actions}
    assert len(want) == len(want_actions) > 100
    assert got.keys() == want.keys(), (len(got.keys() - want.keys()), len(want.keys() - got.keys()))
    assert [k for k in want if got[k] != want[k]] == []
    assert statistics_differences([("", r) for r in run.stats if r["Reason"] != "Final"], want_stats) == {}
    # Nothing came too late for the reorder window, redeliveries included (they are dropped on arrival).
    assert run.counts["late"] == 0 and run.late == []
    kinds = {r["ObjectType"] for r in want_stats} | {r["TimeProfile"] for r in want_stats}
    assert {"Agent", "Place", "GroupAgents", "GroupPlaces", "Queue", "Tenant", "Default", "LastHour"} <= kinds
    return run.counts


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    agents=st.integers(4, 10),
    sim_seed=st.integers(0, 10_000),
    start=st.sampled_from(STARTS),
    events_partitions=st.integers(1, 8),
    agent_partitions=st.integers(1, 8),
    workers=st.integers(1, 3),
    move_every=st.sampled_from([0, 4, 25]),
    seed=st.integers(0, 10_000),
)
def test_partitioned_and_moved_stages_give_replays_actions_and_statistics(
    tmp_path: Path, agents: int, sim_seed: int, start: str, events_partitions: int, agent_partitions: int,
    workers: int, move_every: int, seed: int,
) -> None:
    events, cfg = centre(tmp_path, agents, 0.3, sim_seed, start)
    check(events, cfg, seed=seed, events_partitions=events_partitions, agent_partitions=agent_partitions,
          workers=workers, move_every=move_every)


def test_moves_happen_and_redeliveries_are_dropped(tmp_path: Path) -> None:
    """The property above is not vacuous: partitions move, also mid-batch, and inputs come twice."""
    events, cfg = centre(tmp_path, 8, 0.5, 5, STARTS[0])
    counts = check(events, cfg, seed=3, events_partitions=4, agent_partitions=3, workers=3, move_every=4)
    assert counts["moves"] > 10 and counts["moves-mid-batch"] > 0
    assert counts["redelivered"] > 0


@pytest.mark.slow
@pytest.mark.soak  # 20 bigger centres, about 2 min: `pytest -m soak` (the hypothesis test runs in make test)
@pytest.mark.parametrize("seed", range(20))
def test_bigger_centres_partitioned_and_moved(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events, cfg = centre(tmp_path, 20, 2.0, seed, STARTS[seed % 2])
    check(events, cfg, seed=seed, events_partitions=rng.randint(1, 8), agent_partitions=rng.randint(1, 8),
          workers=rng.randint(1, 4), move_every=rng.choice([0, 5, 40]))


@pytest.mark.parametrize(("seed", "stats_partitions", "merge_partitions"), [(1, 5, 1), (2, 3, 2), (4, 8, 3)])
def test_statistics_partitioned_too(tmp_path: Path, seed: int, stats_partitions: int,
                                    merge_partitions: int) -> None:
    """Stages 3 and 4 on several partitions too: the watermarks each stats partition sees (which
    depend on the interleaving) move its clock, and its own objects' values still equal replay's."""
    events, cfg = centre(tmp_path, 12, 1.0, 3, STARTS[0])
    check(events, cfg, seed=seed, events_partitions=2, agent_partitions=3, stats_partitions=stats_partitions,
          merge_partitions=merge_partitions)


@pytest.mark.parametrize(("seed", "events_partitions", "agent_partitions", "workers"),
                         [(3, 2, 2, 2), (5, 3, 3, 3), (11, 1, 1, 1), (12, 4, 3, 3)])
def test_killed_workers_restored_from_changelogs_cut_short_give_replays_results(
    tmp_path: Path, seed: int, events_partitions: int, agent_partitions: int, workers: int,
) -> None:
    """A kill keeps only a prefix of each table's writes since the last commit (pipeline/topology.py).
    Stage 2's upstream marks written ahead of the states they released came back without those
    states: the redelivered inputs were then released at once, one by one in offset order, and one
    agent's state went another way than replay's (an action made twice, differently, or late)."""
    events, cfg = centre(tmp_path, 8, 1.0, seed, STARTS[seed % 2])
    counts = check(events, cfg, seed=seed, events_partitions=events_partitions,
                   agent_partitions=agent_partitions, workers=workers, kill_every=8, commit_every=4)
    assert counts["kills"] > 5 and counts["redelivered"] > 0
