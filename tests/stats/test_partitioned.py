"""Statistics over several partitions (stage 3 partials + stage 4 merge) equal one engine's.

The property: over simulated multi-agent streams (groups of agents and places, one tenant, queues,
the starter statistics — Growing and Sliding), any number of stats partitions and merge partitions
and any interleaving of the hops between them, every latest statistic value and every Final equals
replay's. Unit tests pin the merge's own rules: redeliveries, order across sources, a Growing reset
between sources' partials, and the refusal of statistics that cannot be merged.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.records.keys import action_key
from pipeline.replay import replay
from pipeline.simulate import Simulator
from pipeline.stats import accumulator as acc_ops
from pipeline.stats.config import Config, load_config, starter_text
from pipeline.stats.engine import StatEngine
from pipeline.stats.ordered import OrderedStats
from pipeline.stats.partials import MergeStats, PartialStats
from pipeline.stats.topology import PartitionedStats, partition_of
from tests.stats.engine_builders import act, at, config, durable, selection, since_login, sliding, stat
from tests.stream.harness import statistics_differences

# --- the property -----------------------------------------------------------------------------------


def centre(tmp: Path, agents: int, hours: float, seed: int, start: str) -> tuple[list[dict], Config]:
    """A simulated centre's events and the starter statistics with its agent and place groups."""
    sim = Simulator(agents=agents, hours=hours, per_hour=150, seed=seed, tenant="t1", start=start)
    events = list(sim.events())
    lines = [starter_text().rstrip(), "", "groups:", "  GroupAgents:"]
    lines += [f"    {g}: [{', '.join(m)}]" for g, m in sim.groups.items() if m]
    floors: dict[str, list[str]] = {}
    for agent in sim.agents:
        floors.setdefault(f"Floor{agent.group}", []).append(agent.place)
    lines += ["  GroupPlaces:", *(f"    {g}: [{', '.join(m)}]" for g, m in floors.items())]
    path = tmp / f"centre-{agents}-{seed}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return events, load_config(path)


def statistics(events: list[dict], cfg: Config, **partitioning) -> list[dict]:
    out: list[dict] = []
    replay(enumerate(events, 1), cfg, on_stat=out.append, future_tolerance_ms=None, **partitioning)
    return out


def finals(records: list[dict]) -> dict[tuple, tuple]:
    return {
        (r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"]): (r["IntervalStart"], r["State"],
                                                                          r["Value"])
        for r in records if r["Reason"] == "Final"
    }


def check_equal(events: list[dict], cfg: Config, partitions: int, merges: int, seed: int | None) -> None:
    want = statistics(events, cfg)
    rng = random.Random(seed) if seed is not None else None
    got = statistics(events, cfg, stats_partitions=partitions, merge_partitions=merges, interleave=rng)
    assert (d := statistics_differences([("", r) for r in got if r["Reason"] != "Final"], want)) == {}, d
    got_finals, want_finals = finals(got), finals(want)
    assert got_finals.keys() == want_finals.keys()
    for key, (start, state, value) in want_finals.items():
        assert got_finals[key][:2] == (start, state), key
        assert got_finals[key][2] == pytest.approx(value, abs=1e-6), key
    # The comparison covers every kind of object, Growing and Sliding, own and merged statistics.
    kinds = {(r["ObjectType"], r["TimeProfile"]) for r in want}
    assert {"Agent", "Place", "GroupAgents", "GroupPlaces", "Queue", "Tenant"} <= {k[0] for k in kinds}
    assert {"Default", "LastHour"} <= {k[1] for k in kinds}


STARTS = ("2026-05-11T09:00:00Z", "2026-05-11T23:52:00Z")  # the second crosses midnight (Growing resets)


# No shrinking: each example replays a simulated centre several times; a failure names its example.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    agents=st.integers(3, 7),
    seed=st.integers(0, 10_000),
    start=st.sampled_from(STARTS),
    partitions=st.integers(1, 8),
    merges=st.integers(1, 4),
    interleave=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_partitioned_statistics_equal_replay(tmp_path: Path, agents, seed, start, partitions, merges,
                                             interleave) -> None:
    events, cfg = centre(tmp_path, agents, 0.2, seed, start)
    check_equal(events, cfg, partitions, merges, interleave)


#: Categories that read the time line of a group's or tenant's CurrentNumber: its extremes are the
#: sum's own, which stage 4 keeps as it applies the updates in order (CurrentContinuousTime, the
#: other one, is defined for Agent and Place only).
TIMELINE = """\
  Peak_Ready: {Objects: [Agent, GroupAgents, Tenant], Category: MaxNumber, MainMask: [Available]}
  Low_Ready: {Objects: [GroupAgents, Tenant], Category: MinNumber, MainMask: [Available]}
"""
TIMELINE_STATISTICS = """\
  - {stat_type: Peak_Ready, time_profile: Default, name: Peak_Ready}
  - {stat_type: Peak_Ready, time_profile: LastHour, name: Peak_Ready_Last_Hour}
  - {stat_type: Low_Ready, time_profile: Default, name: Low_Ready}
  - {stat_type: Low_Ready, time_profile: LastHour, name: Low_Ready_Last_Hour}
"""


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    agents=st.integers(3, 7),
    seed=st.integers(0, 10_000),
    start=st.sampled_from(STARTS),
    partitions=st.integers(2, 8),
    merges=st.integers(1, 4),
    interleave=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_group_extremes_equal_replay(tmp_path: Path, agents, seed, start, partitions,
                                                         merges, interleave) -> None:
    """MaxNumber and MinNumber of groups and the tenant over several partitions: the extreme of a sum
    is not made of the parts', but stage 4 applies one update per action in one engine's order and
    keeps the sum's time line."""
    events, base = centre(tmp_path, agents, 0.2, seed, start)
    path = tmp_path / f"centre-{agents}-{seed}.yaml"
    text = path.read_text()
    text = text.replace("\nstat_types:\n", "\nstat_types:\n" + TIMELINE, 1)
    text = text.replace("\nstatistics:\n", "\nstatistics:\n" + TIMELINE_STATISTICS, 1)
    timeline = tmp_path / f"timeline-{agents}-{seed}.yaml"
    timeline.write_text(text)
    cfg = load_config(timeline)
    assert len(cfg.statistics) == len(base.statistics) + 4
    check_equal(events, cfg, partitions, merges, interleave)


@pytest.mark.slow
@pytest.mark.soak  # six bigger centres, about a minute: `pytest -m soak`
@pytest.mark.parametrize("seed", range(6))
def test_partitioned_statistics_equal_replay_bigger(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events, cfg = centre(tmp_path, 12, 0.6, seed, STARTS[seed % 2])
    check_equal(events, cfg, rng.randint(2, 8), rng.randint(1, 4), seed)


def test_one_partition_is_replay(tmp_path: Path) -> None:
    """With one stats partition nothing is partial: the very records of replay, in its order."""
    events, cfg = centre(tmp_path, 5, 0.2, 3, STARTS[1])
    assert statistics(events, cfg, stats_partitions=1, interleave=random.Random(1)) == statistics(events, cfg)


# --- the merge's rules ------------------------------------------------------------------------------

TENANT = ["Agent", "Tenant"]
HANDLED = stat("TotalNumber", ["StoppedInbound"], objects=TENANT, name="Handled")
AVAILABLE = stat("CurrentNumber", ["Available"], objects=TENANT, name="Available")
MIDNIGHT = 15 * 3600  # seconds after T0 (09:00 UTC)


def partial_updates(cfg: Config, source: int, actions: list[dict], watermark: int) -> list[dict]:
    """What stage 3 partition ``source`` (of 2) sends for these actions, released by ``watermark``."""
    part = PartialStats(cfg, source, partitions=2)
    for action in actions:
        part.push(action)
    part.release_to(watermark)
    return part.take_partials()


def handled(agent: str, *seconds: float) -> list[dict]:
    return [act("StoppedInbound", s, obj=("Agent", agent), iid=f"{agent}-{s}", dur=5) for s in seconds]


def tenant_value(merge: MergeStats, name: str, t: float) -> float:
    return merge.engine.value(name, "Tenant", "t1", "t1", at(t))["Value"]


def last_tenant(records: list[dict], name: str) -> dict:
    return [r for r in records if r["Statistic"] == name and r["ObjectType"] == "Tenant"][-1]


def test_redelivered_update_is_ignored() -> None:
    cfg = config(HANDLED)
    first = partial_updates(cfg, 0, handled("a1", 10), at(15))
    both = partial_updates(cfg, 0, handled("a1", 10, 20), at(25))
    merge = MergeStats(cfg, sources=1)
    for update in both:
        merge.push(update)
    merge.watermark(0, at(25))
    assert tenant_value(merge, "Handled", 30) == 2
    # Stage 3 restarted from an older checkpoint sends the first update again: it is dropped.
    tags, records = merge.push(first[0], tag="again")
    assert tags == ["again"] and records == [] and merge.repeats == 1
    merge.watermark(0, at(30))
    assert tenant_value(merge, "Handled", 30) == 2


def test_order_of_arrival_across_sources_does_not_matter() -> None:
    cfg = config(HANDLED, AVAILABLE)
    a1 = [*durable("Available", 5, 40, obj=("Agent", "a1")), *handled("a1", 10, 30)]
    a2 = [*durable("Available", 8, obj=("Agent", "a2")), *handled("a2", 10, 20)]
    zero, one = partial_updates(cfg, 0, a1, at(50)), partial_updates(cfg, 1, a2, at(50))
    assert zero and one

    def run(order: list[tuple[int, dict]]) -> list[dict]:
        merge = MergeStats(cfg, sources=2)
        out: list[dict] = []
        for _source, update in order:
            out += merge.push(update)[1]
        out += merge.watermark(0, at(50))[1] + merge.watermark(1, at(50))[1]
        return out + merge.finals(at(60))

    in_order = run([(0, u) for u in zero] + [(1, u) for u in one])
    reversed_sources = run([(1, u) for u in one] + [(0, u) for u in zero])
    picks = [0] * len(zero) + [1] * len(one)
    random.Random(5).shuffle(picks)  # a random merge of the two sources, each in its own order (Kafka's)
    queues = {0: list(zero), 1: list(one)}
    interleaved = run([(p, queues[p].pop(0)) for p in picks])
    assert in_order == reversed_sources == interleaved
    assert last_tenant(in_order, "Handled")["Value"] == 4
    assert last_tenant(in_order, "Available")["Value"] == 1  # a1's ended at 40, a2's still on


def test_nothing_is_applied_before_every_source_has_passed_it() -> None:
    cfg = config(HANDLED)
    merge = MergeStats(cfg, sources=2)
    updates = partial_updates(cfg, 0, handled("a1", 10), at(15))
    for n, update in enumerate(updates):
        assert merge.push(update, tag=n) == ([], [])  # held
    assert merge.watermark(0, at(15), tag="w0") == (["w0"], [])  # source 1 has said nothing yet
    tags, records = merge.watermark(1, at(12), tag="w1")
    assert tags == [*range(len(updates)), "w1"]  # every held update is applied, then the watermark
    assert last_tenant(records, "Handled")["Value"] == 1


def test_growing_reset_between_sources_partials() -> None:
    """Source 0's last change is before midnight, source 1's after: the day closes with both
    sources' counts before midnight, and the new day holds only what came after it."""
    cfg = config(HANDLED)
    end = at(MIDNIGHT + 60)
    zero = partial_updates(cfg, 0, handled("a1", MIDNIGHT - 30, MIDNIGHT - 20), end)
    one = partial_updates(cfg, 1, handled("a2", MIDNIGHT - 10, MIDNIGHT + 10, MIDNIGHT + 20), end)
    merge = MergeStats(cfg, sources=2)
    records: list[dict] = []
    for update in one + zero:  # the later source first
        records += merge.push(update)[1]
    records += merge.watermark(1, end)[1] + merge.watermark(0, end)[1]
    reset = [r for r in records if r["Reason"] == "Reset" and r["ObjectType"] == "Tenant"]
    assert [(r["Value"], r["IntervalEnd"]) for r in reset] == [(3, at(MIDNIGHT))]
    assert last_tenant(records, "Handled")["Value"] == 2
    assert last_tenant(records, "Handled")["IntervalStart"] == at(MIDNIGHT)
    # The same through the topology driver equals one engine.
    topo = PartitionedStats(cfg, partitions=2, merge_partitions=1, rng=random.Random(4))
    got = []
    for action in sorted(handled("a1", MIDNIGHT - 30, MIDNIGHT - 20)
                         + handled("a2", MIDNIGHT - 10, MIDNIGHT + 10, MIDNIGHT + 20),
                         key=lambda a: a["EventTime"]):
        got += topo.push(action)
    got += topo.watermark(end) + topo.flush()
    tenant = [r for r in got if r["ObjectType"] == "Tenant"]
    assert [(r["Reason"], r["Value"]) for r in tenant if r["Reason"] == "Reset"] == [("Reset", 3)]
    assert tenant[-1]["Value"] == 2


def test_unmergeable_statistic_is_refused() -> None:
    """TotalTime over SinceLogin on a group splits durations at the group's interval start, which is
    later in a partial than in the whole: refused. The timeline categories are not (see below)."""
    session = stat("TotalTime", ["Available"], objects=["Agent", "GroupAgents"], name="Ready_Session",
                   profile=since_login())
    cfg = config(HANDLED, session, agents={"Sales": ["a1"]})
    with pytest.raises(ValueError, match="Ready_Session.*GroupAgents.*one stats partition"):
        MergeStats(cfg, sources=2)
    with pytest.raises(ValueError, match="Ready_Session"):
        PartialStats(cfg, 0, partitions=2)
    PartialStats(cfg, 0, partitions=1)  # one partition computes it whole
    own_only = stat("TotalTime", ["Available"], objects=["Agent"], name="Ready_Own", profile=since_login())
    MergeStats(config(HANDLED, own_only), sources=2)  # an own object's statistic is never merged
    peak = stat("MaxNumber", ["Available"], objects=["Agent", "GroupAgents"], name="Peak_Available")
    MergeStats(config(HANDLED, peak), sources=2)  # a sum's extreme: kept by stage 4 in order


def test_merge_state_survives_a_restart() -> None:
    cfg = config(HANDLED, AVAILABLE)
    a1 = [*durable("Available", 5, obj=("Agent", "a1")), *handled("a1", 10)]
    a2 = [*durable("Available", 6, obj=("Agent", "a2")), *handled("a2", 12)]
    zero, one = partial_updates(cfg, 0, a1, at(20)), partial_updates(cfg, 1, a2, at(20))
    merge = MergeStats(cfg, sources=2)
    for update in zero + one:
        merge.push(update)
    merge.watermark(0, at(20))  # source 1's updates are held: its watermark has not come
    restarted = MergeStats(cfg, sources=2)
    restarted.import_state(merge.export_state())
    for update in one[:1]:  # a redelivery of one held update: dropped
        assert restarted.push(update)[0] == [None]
    for m in (merge, restarted):
        m.watermark(1, at(20))
    assert merge.export_state() == restarted.export_state()
    assert tenant_value(restarted, "Handled", 25) == 2 and tenant_value(restarted, "Available", 25) == 2


def test_partial_state_survives_a_restart() -> None:
    """Stage 3's dirty accumulators and its update counter are in the engine state it checkpoints."""
    cfg = config(HANDLED)
    part = PartialStats(cfg, 0, partitions=2)
    part.push(handled("a1", 10)[0])
    part.release_to(at(15))
    copy = PartialStats(cfg, 0, partitions=2)
    copy.engine.import_state(part.engine.export_state())
    assert copy.take_partials() == part.take_partials() != []
    part.push(handled("a1", 20)[0])
    copy.push(handled("a1", 20)[0])
    part.release_to(at(25))
    copy.release_to(at(25))
    assert copy.take_partials() == part.take_partials() != []


# --- the command ------------------------------------------------------------------------------------


def test_replay_command_with_stats_partitions(tmp_path: Path) -> None:
    events, _cfg = centre(tmp_path, 5, 0.2, 8, STARTS[0])
    source = tmp_path / "day.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    config_path = tmp_path / "centre-5-8.yaml"
    outputs = {}
    for n in ("1", "4"):
        out = tmp_path / f"stats-{n}.jsonl"
        args = ["replay", str(source), "--config", str(config_path), "--stats-out", str(out), "--quiet"]
        assert main([*args, "--stats-partitions", n, "--merge-partitions", "3"]) == 0
        outputs[n] = [json.loads(line) for line in out.read_text().splitlines()]
    one, four = outputs["1"], outputs["4"]
    assert statistics_differences([("", r) for r in four if r["Reason"] != "Final"], one) == {}
    assert finals(four) == finals(one)


def test_replay_command_computes_group_extremes_over_partitions(tmp_path: Path) -> None:
    """A configuration with a group's and the tenant's MaxNumber / MinNumber runs over several stats
    partitions (the configuration's rules keep SinceLogin and CurrentContinuousTime on agents and
    places, so no valid configuration is refused) and gives one partition's values."""
    events, _cfg = centre(tmp_path, 5, 0.2, 9, STARTS[0])
    source = tmp_path / "day.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    text = (tmp_path / "centre-5-9.yaml").read_text()
    text = text.replace("\nstat_types:\n", "\nstat_types:\n" + TIMELINE, 1)
    config_path = tmp_path / "timeline.yaml"
    config_path.write_text(text.replace("\nstatistics:\n", "\nstatistics:\n" + TIMELINE_STATISTICS, 1))
    outputs = {}
    for n in ("1", "3"):
        out = tmp_path / f"stats-{n}.jsonl"
        args = ["replay", str(source), "--config", str(config_path), "--stats-out", str(out), "--quiet"]
        assert main([*args, "--stats-partitions", n]) == 0
        outputs[n] = [json.loads(line) for line in out.read_text().splitlines()]
    one, three = outputs["1"], outputs["3"]
    assert any(r["Statistic"] == "Peak_Ready" and r["ObjectType"] == "Tenant" for r in three)
    assert statistics_differences([("", r) for r in three if r["Reason"] != "Final"], one) == {}
    assert finals(three) == finals(one)


def test_partial_is_sent_as_it_was_before_the_clock_resets_it() -> None:
    """A watermark past midnight releases a partition's last action of the day and then resets its
    partial: the update stage 4 gets for that action still holds the day's count."""
    cfg = config(HANDLED)
    updates = partial_updates(cfg, 0, handled("a1", MIDNIGHT - 20, MIDNIGHT - 10), at(MIDNIGHT + 60))
    last = [u for u in updates if u["Key"] == "Handled/Tenant/t1/t1"][-1]
    assert last["AsOf"] == at(MIDNIGHT - 10)
    assert last["Acc"]["w"]["b"]["nM"] == 2  # not the new day's empty interval
    merge = MergeStats(cfg, sources=1)
    for update in updates:
        merge.push(update)
    records = merge.watermark(0, at(MIDNIGHT + 60))[1]
    assert [r["Value"] for r in records if r["Reason"] == "Reset"] == [2]


def test_a_members_first_unmatched_action_sends_nothing() -> None:
    """One engine sends no record for a tenant when an agent's action does not match the statistic;
    the merge neither, even though that agent's partition then creates its (empty) partial — for a
    value that moves with the clock a needless record would otherwise go out."""
    waiting = stat("CurrentMaxTime", ["Available"], objects=TENANT, name="Longest_Available")
    cfg = config(waiting)
    actions = sorted([*durable("Available", 0, obj=("Agent", "a1")),
                      *durable("Active", 35, obj=("Agent", "a4"))], key=lambda a: a["EventTime"])
    # a1 and a4 in different partitions of two
    assert len({partition_of(action_key(a), 2) for a in actions}) == 2

    def tenant_records(stage3) -> list[tuple]:
        out: list[dict] = []
        for action in actions:
            out += list(stage3.iter_push(action))
        out += list(stage3.iter_release_to(at(35))) + list(stage3.iter_flush())
        return [(r["EmittedAt"], r["Value"]) for r in out if r["ObjectType"] == "Tenant"]

    one = tenant_records(OrderedStats(cfg))
    # a1's value at its start and at the check at 30 s; nothing when a4 acts at 35 s
    assert tenant_records(PartitionedStats(cfg, partitions=2)) == one == [(at(0), 0.0), (at(30), 30.0)]


def test_merge_all_is_merge_folded() -> None:
    """Stage 4's one-pass merge gives the accumulator that folding the pairwise merge gives."""
    stats = [
        HANDLED, AVAILABLE,
        stat("MaxTime", ["StoppedInbound"], objects=TENANT, name="Longest", profile=sliding(600, 60)),
        stat("AverageTime", ["StoppedInbound"], objects=TENANT, name="Last3", profile=selection(3)),
    ]
    cfg = config(*stats)
    engines = []
    for n, agent in enumerate(("a1", "a2", "a3")):
        engine = StatEngine(cfg)
        actions = [*durable("Available", 5 + n, obj=("Agent", agent)),
                   *handled(agent, 30 + n, 90 + 7 * n, 200 + n)]
        for action in sorted(actions, key=lambda a: a["EventTime"]):
            engine.on_action(action, action["EventTime"])
        engine.advance(at(300))
        engines.append(engine)
    for slot in engines[0]._slots:
        parts = [e._by_name[slot.name].accs["Tenant/t1/t1"] for e in engines]
        folded = acc_ops.merge(slot.plan, acc_ops.merge(slot.plan, parts[0], parts[1]), parts[2])
        assert acc_ops.merge_all(slot.plan, parts).to_json(slot.plan) == folded.to_json(slot.plan), slot.name
