"""Stage 3 remembers its newest applied ActionIDs, whatever event time does.

A repeat comes from an upstream stage made again after a crash: it follows its original by a span
of processing, not of event time. A day followed hours later by other events (the kill test's
day: one tenant from 08:00, the golden scenarios at 13:00 and 15:00) moves the clock by hours in
one step; the ids of the hour before must still drop the repeats that come after. And a busy hour
must not keep every id of the hour (millions at production rates).
"""

from __future__ import annotations

from pipeline.stats.config import load_config
from pipeline.stats.ordered import OrderedStats

T0 = 1_778_486_400_000  # 2026-05-11T08:00:00Z


def accepted(n: int, t: int) -> dict:
    return {
        "ActionID": f"id-{n}", "Action": "Accepted", "Kind": "Retrospective", "ObjectType": "Agent",
        "ObjectID": "a1", "TenantID": "t1", "EventTime": t, "DurationMs": 5, "AgentID": "a1",
        "MediaTypeID": "email",
    }


def day_then_jump(stats: OrderedStats, n: int) -> list[dict]:
    """``n`` actions 100 ms apart from 08:00, then one five hours later, each released at once."""
    actions = [accepted(i, T0 + 100 * i) for i in range(n)] + [accepted(n, T0 + 5 * 3_600_000)]
    for action in actions:
        stats.push(action)
        stats.release_to(action["EventTime"])
    return actions


def test_a_repeat_after_a_jump_of_hours_is_still_dropped() -> None:
    stats = OrderedStats(load_config(None), window_ms=0)
    actions = day_then_jump(stats, 4200)  # more than the 4,096 ids that used to start forgetting
    assert stats.engine.clock - actions[-2]["EventTime"] > 2 * 3_600_000
    tags, records = stats.push(dict(actions[-2]), "again")
    assert tags == ["again"] and records == [] and stats.repeats == 1


def test_ids_are_forgotten_beyond_the_newest_kept_after_a_jump() -> None:
    stats = OrderedStats(load_config(None), window_ms=0, dedup_keep=100)
    actions = day_then_jump(stats, 450)
    assert 100 <= len(stats.applied_ids) <= 200  # bounded: forgotten down to the newest 100
    assert actions[-2]["ActionID"] in stats.applied_ids  # the newest are kept, however old
    assert actions[0]["ActionID"] not in stats.applied_ids
    _tags, records = stats.push(dict(actions[-3]), "again")
    assert records == [] and stats.repeats == 1


def test_ids_are_bounded_within_an_hour_of_event_time_too() -> None:
    """450 actions in 45 s of event time, 100 kept: no more than twice that is held at any time,
    the newest are there, and a repeat of one of them is dropped."""
    stats = OrderedStats(load_config(None), window_ms=0, dedup_keep=100)
    held = 0
    for i in range(450):
        stats.push(accepted(i, T0 + 100 * i))
        stats.release_to(T0 + 100 * i)
        held = max(held, len(stats.applied_ids))
    assert held <= 200 and 100 <= len(stats.applied_ids) <= 200
    assert list(stats.applied_ids)[-1] == "id-449" and "id-0" not in stats.applied_ids
    _tags, records = stats.push(accepted(440, T0 + 44_000), "again")
    assert records == [] and stats.repeats == 1


def test_one_release_of_many_actions_forgets_as_it_applies() -> None:
    """A watermark releasing 450 actions at once (a whole instant), 100 kept: never more than a
    quarter over them held, the newest kept."""
    stats = OrderedStats(load_config(None), window_ms=0, dedup_keep=100)
    for i in range(450):
        stats.push(accepted(i, T0 + i))
    held = 0
    for _ in stats.iter_release_to(T0 + 450):
        held = max(held, len(stats.applied_ids))
    assert stats.repeats == 0 and 100 <= len(stats.applied_ids) <= 125 and held <= 125
    assert list(stats.applied_ids)[-1] == "id-449" and "id-0" not in stats.applied_ids


def test_with_nothing_kept_no_id_is_held_and_a_repeat_counts_again() -> None:
    """``dedup_keep=0`` is replay's: its own core makes each action once, so it keeps no ids (they
    were megabytes at scale); what the same action pushed twice does then is count twice."""
    stats = OrderedStats(load_config(None), window_ms=0, dedup_keep=0)
    actions = day_then_jump(stats, 300)
    assert not stats.applied_ids and not stats._waiting_ids
    before = stats.engine.export_state()
    stats.push(dict(actions[-1]))
    stats.release_to(actions[-1]["EventTime"])
    assert stats.repeats == 0 and stats.engine.export_state() != before


def test_replay_keeps_no_action_ids(tmp_path, monkeypatch) -> None:
    """Replay's stage 3, in its process or its child (``pipeline.stats.child``), keeps none: a stage
    built otherwise fails the replay."""
    from pipeline import replay
    from pipeline.cli import main
    from pipeline.stats import child
    from tests.golden import scenario

    class KeepsNone(OrderedStats):
        def __init__(self, *args, dedup_keep: int = 100_000, **kwargs) -> None:
            if dedup_keep:
                raise AssertionError(f"replay's stage 3 keeps {dedup_keep} ids")
            super().__init__(*args, dedup_keep=dedup_keep, **kwargs)

    monkeypatch.setattr(replay, "OrderedStats", KeepsNone)
    monkeypatch.setattr(child, "OrderedStats", KeepsNone)  # the forked child inherits it
    events = scenario("routed-emails.events.jsonl")
    for jobs in ("1", "2"):
        out = tmp_path / f"s{jobs}.jsonl"
        assert main(["replay", str(events), "--stats-out", str(out), "--jobs", jobs, "--quiet"]) == 0
        assert out.read_bytes().count(b"\n") > 10
